//! Log files as a source for the dashboard: reads them on reader threads
//! (the same [`scan`] as `report`) and sends each file's events as one
//! owned batch, with progress, into the consumer's bounded channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::thread;

use super::files::{Consumer, Input, Listed, Problem, scan};
use crate::event::{KmsEvent, PackedEvent};
use crate::feed::SourceMsg;

struct Batcher<M> {
    tx: SyncSender<M>,
    events: Vec<PackedEvent>,
    done: Arc<AtomicUsize>,
    total: usize,
}

impl<M: From<SourceMsg> + Send> Consumer for Batcher<M> {
    fn consume(&mut self, event: KmsEvent<'_>) {
        self.events.push(PackedEvent::pack(&event));
    }

    fn end_file(&mut self, _index: usize) {
        let events = std::mem::take(&mut self.events);
        if !events.is_empty() {
            let _ = self.tx.send(SourceMsg::FileEvents(events).into());
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.tx.send(
            SourceMsg::FilesRead {
                done,
                total: self.total,
            }
            .into(),
        );
    }
}

/// Starts reading `inputs` on `threads` reader threads; the messages end
/// with [`SourceMsg::FilesDone`]. A full channel makes the readers wait.
pub fn spawn<M: From<SourceMsg> + Send + 'static>(
    inputs: Vec<Input>,
    threads: usize,
    tx: SyncSender<M>,
) {
    let spawned = thread::Builder::new()
        .name("kmstop-files".into())
        .spawn(move || {
            let done = Arc::new(AtomicUsize::new(0));
            let total = inputs.len();
            let problem_tx = tx.clone();
            let on_problem = move |p: Problem| {
                let text = p.to_string();
                tracing::warn!("{text}");
                let _ = problem_tx.send(SourceMsg::FileProblem(text).into());
            };
            let make = || Batcher {
                tx: tx.clone(),
                events: Vec::new(),
                done: Arc::clone(&done),
                total,
            };
            let (_, stats) = scan(&Listed::new(&inputs), threads, make, &on_problem);
            let _ = tx.send(SourceMsg::FilesDone(stats).into());
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the file reader: {e}");
    }
}
