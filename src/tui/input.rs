//! The single reader of terminal input, on its own thread: it blocks in
//! `crossterm::event::read` and hands every event to the loop. Nothing
//! else reads the terminal. Signals arrive the same way, as messages.

use std::sync::mpsc::SyncSender;
use std::thread;

use crossterm::event::Event;

use super::Msg;

pub fn spawn_reader(tx: SyncSender<Msg>) {
    let spawned = thread::Builder::new()
        .name("kmstop-input".into())
        .spawn(move || {
            loop {
                match crossterm::event::read() {
                    Ok(Event::FocusGained | Event::FocusLost) => {}
                    Ok(event) => {
                        if tx.send(Msg::Input(event)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::error!("reading terminal input: {e}");
                        let _ = tx.send(Msg::Quit);
                        break;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the input thread: {e}");
    }
}

/// SIGTERM, SIGINT and SIGHUP end the loop like `q` does, so the guard
/// restores the terminal on the way out.
pub fn spawn_signals(tx: SyncSender<Msg>) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot watch signals: {e}");
            return;
        }
    };
    let spawned = thread::Builder::new()
        .name("kmstop-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                tracing::info!("signal {signal}: quitting");
                let _ = tx.send(Msg::Quit);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the signal thread: {e}");
    }
}
