//! The CLI adapters: parse, set up logging, run a command, map its error to an exit code.

mod backup;
mod export;
mod list;
mod login;
mod verify;
mod zip;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{code_for, Code};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Code::Usage.into()
            } else {
                Code::Ok.into()
            };
        }
    };
    init_logging();
    let result = match cli.command {
        None => backup::run(cli.backup),
        Some(Command::Backup(args)) => backup::run(args),
        Some(Command::Verify(args)) => verify::run(args),
        Some(Command::Export(cmd)) => export::run(cmd),
        Some(Command::List(args)) => list::run(args),
        Some(Command::Zip(args)) => zip::run(args),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) if broken_pipe(&e) => Code::Ok.into(),
        Err(e) => {
            let code = code_for(&e);
            if code == Code::Interrupted {
                eprintln!(
                    "matterbak: interrupted; nothing half-written was kept, run again to continue"
                );
            } else {
                eprintln!("matterbak: error: {e:#}");
            }
            code.into()
        }
    }
}

/// Log lines go to stderr: plain on a terminal, with timestamps otherwise (cron, files).
/// `RUST_LOG` (e.g. `RUST_LOG=debug`) changes the level.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::progress::LogWriter)
        .with_target(false);
    if std::io::stderr().is_terminal() {
        builder.without_time().init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// The reader of standard output went away (`matterbak export md | head`): not an error.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
