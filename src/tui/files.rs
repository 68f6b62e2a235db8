//! File mode's source: reads the log files on reader threads (the same
//! `source::files::scan` as `report`) and hands each file's events to the
//! loop as one owned batch over the bounded channel, with progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::thread;

use super::Msg;
use crate::event::{KmsEvent, PackedEvent};
use crate::source::files::{Consumer, Input, Problem, ScanStats, scan};

/// What the file reader tells the loop.
#[derive(Debug)]
pub enum FileMsg {
    Events(Vec<PackedEvent>),
    Progress { done: usize, total: usize },
    Problem(String),
    Done(ScanStats),
}

struct Batcher {
    tx: SyncSender<Msg>,
    events: Vec<PackedEvent>,
    done: Arc<AtomicUsize>,
    total: usize,
}

impl Consumer for Batcher {
    fn consume(&mut self, event: KmsEvent<'_>) {
        self.events.push(PackedEvent::pack(&event));
    }

    fn end_file(&mut self, _index: usize) {
        let events = std::mem::take(&mut self.events);
        if !events.is_empty() {
            let _ = self.tx.send(Msg::Files(FileMsg::Events(events)));
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.tx.send(Msg::Files(FileMsg::Progress {
            done,
            total: self.total,
        }));
    }
}

pub fn spawn_reader(inputs: Vec<Input>, threads: usize, tx: SyncSender<Msg>) {
    let spawned = thread::Builder::new()
        .name("kmstop-files".into())
        .spawn(move || {
            let done = Arc::new(AtomicUsize::new(0));
            let total = inputs.len();
            let problem_tx = tx.clone();
            let on_problem = move |p: Problem| {
                let text = match p {
                    Problem::FileFailed { input, reason } => format!("{input}: {reason}"),
                    Problem::NotUtf8 { input, first_at } => format!(
                        "{input}: bytes that are not UTF-8 (the first at byte {first_at}) read as U+FFFD"
                    ),
                    Problem::Malformed {
                        input,
                        count,
                        first,
                    } => {
                        format!("{input}: {count} malformed record(s) skipped (first: {first})")
                    }
                };
                tracing::warn!("{text}");
                let _ = problem_tx.send(Msg::Files(FileMsg::Problem(text)));
            };
            let make = || Batcher {
                tx: tx.clone(),
                events: Vec::new(),
                done: Arc::clone(&done),
                total,
            };
            let (_, stats) = scan(&inputs, threads, make, &on_problem);
            let _ = tx.send(Msg::Files(FileMsg::Done(stats)));
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the file reader: {e}");
    }
}
