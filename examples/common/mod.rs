//! What the timing examples share: the directory they are given, read and
//! loaded into the dashboard's `App` as the file dashboard loads it.
// Each example uses what it needs of this.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use kmstop::app::{Action, App, Data, DataConfig, Mode, update};
use kmstop::event::{KmsEvent, PackedEvent};
use kmstop::source::files::{Consumer, Input, Listed, discover, scan};

/// The logs named by the example's first argument, or the exit code of
/// a usage error (said on stderr).
pub fn inputs(example: &str) -> Result<(PathBuf, Vec<Input>), ExitCode> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: {example} DIR");
        return Err(ExitCode::from(2));
    };
    match discover(std::slice::from_ref(&dir)) {
        Ok(inputs) => Ok((dir, inputs)),
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            Err(ExitCode::from(2))
        }
    }
}

#[derive(Default)]
struct Packer(Vec<PackedEvent>);

impl Consumer for Packer {
    fn consume(&mut self, event: KmsEvent<'_>) {
        self.0.push(PackedEvent::pack(&event));
    }
}

/// Every event of `inputs`, read on two threads, each thread's in its
/// files' order.
pub fn packed(inputs: &[Input]) -> Vec<PackedEvent> {
    let (packers, _) = scan(&Listed::new(inputs), 2, Packer::default, &|_| {});
    packers.into_iter().flat_map(|p| p.0).collect()
}

/// A file dashboard of `events` with the built-in rules, fed in the
/// readers' batches, every file read and refreshed.
pub fn loaded(dir: &std::path::Path, events: &[PackedEvent]) -> App {
    let data = Data::new(&DataConfig::files(), kmstop::alert::builtin::rules()).expect("rules");
    let now = kmstop::clock::Clock::now(&kmstop::clock::SystemClock);
    let mut app = App::new(data, Mode::Files(vec![dir.display().to_string()]), now);
    for chunk in events.chunks(500) {
        app.data.ingest(chunk.to_vec(), None);
    }
    app.data.finish_files();
    app.refresh();
    app
}

/// The dashboard of the logs named by the example's first argument,
/// loaded (see [`loaded`]), or the exit code of a usage error.
pub fn loaded_from_args(example: &str) -> Result<App, ExitCode> {
    let (dir, inputs) = inputs(example)?;
    Ok(loaded(&dir, &packed(&inputs)))
}

/// The whole range in view: the widest window, the most to count.
pub fn whole_range(app: &mut App) {
    let now = app.now;
    while app.window.duration().is_some() {
        update(app, Action::CycleWindow, now);
    }
}
