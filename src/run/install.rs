//! `kmstop completions SHELL` and `kmstop man`: what a terminal tool is
//! expected to install, generated from the same clap definitions that
//! parse the command line, so they can never disagree with it.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;

use super::EXIT_INPUT_PROBLEM;
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::text::escape_control;

pub(super) fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "kmstop", &mut out);
    write_stdout(&out, "the completion script")
}

pub(super) fn man(args: &ManArgs) -> ExitCode {
    let cmd = Cli::command();
    if let Some(dir) = &args.dir {
        let shown = escape_control(&dir.display().to_string()).into_owned();
        if !dir.is_dir() {
            eprintln!("kmstop: --dir {shown}: not a directory");
            return ExitCode::from(super::EXIT_USAGE);
        }
        return match clap_mangen::generate_to(cmd, dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kmstop: cannot write the manual pages into {shown}: {e}");
                ExitCode::from(EXIT_INPUT_PROBLEM)
            }
        };
    }
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
        eprintln!("kmstop: cannot render the manual page: {e}");
        return ExitCode::from(EXIT_INPUT_PROBLEM);
    }
    write_stdout(&out, "the manual page")
}

fn write_stdout(bytes: &[u8], what: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("kmstop: cannot write {what}: {e}");
            ExitCode::from(EXIT_INPUT_PROBLEM)
        }
        _ => ExitCode::SUCCESS,
    }
}
