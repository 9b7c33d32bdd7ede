//! The CLI adapters: parse, set up logging, run a command, map its error to an exit code.

mod backup;
mod export;
mod list;
mod login;
mod report;
mod search;
mod verify;
mod zip;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::api::ApiError;
use crate::cancel::Cancel;
use crate::cli::{Cli, Command, GlobalArgs};
use crate::error::{self, Code};

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::parse_args(std::env::args_os()) {
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
    init_logging(&cli.global);
    let g = &cli.global;
    // The one Ctrl+C / SIGTERM handling, for every command that stops at safe points when
    // cancelled (the others keep the default: the signal ends them at once).
    let cancel = Cancel::new();
    if !matches!(
        cli.command,
        Some(Command::Verify(_) | Command::Completions { .. } | Command::Man)
    ) {
        cancel.install_signal_handler();
    }
    let result = match cli.command {
        None => backup::run(cli.backup, g, &cancel),
        Some(Command::Backup(args)) => backup::run(args, g, &cancel),
        Some(Command::Verify(args)) => verify::run(args, g.quiet),
        Some(Command::Export(cmd)) => export::run(cmd, &cancel),
        Some(Command::List(args)) => list::run(args, &cancel),
        Some(Command::Search(args)) => search::run(args, g.quiet, &cancel),
        Some(Command::Zip(args)) => zip::run(args, g.quiet, &cancel),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "matterbak",
                &mut std::io::stdout(),
            );
            Ok(Code::Ok)
        }
        Some(Command::Man) => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map(|()| Code::Ok)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) if broken_pipe(&e) => Code::Ok.into(),
        Err(e) => {
            let code = code_for(&e);
            let msg = if code == Code::Interrupted {
                "interrupted; nothing half-written was kept, run again to continue".to_string()
            } else {
                format!("{e:#}")
            };
            if g.json() {
                tracing::error!(exit_code = code as u8, "{msg}");
            } else if code == Code::Interrupted {
                eprintln!("matterbak: {msg}");
            } else {
                eprintln!("matterbak: error: {msg}");
            }
            code.into()
        }
    }
}

/// Log lines go to stderr: plain on a terminal, with UTC timestamps and no colours otherwise
/// (cron, files), or JSON objects. `-q` logs only errors, `-v` debug, `-vv` trace; `RUST_LOG`
/// (e.g. `RUST_LOG=debug`), when set, decides instead.
fn init_logging(g: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "info,matterbak=debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::progress::LogWriter)
        .with_target(false);
    if g.json() {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_ansi(false)
            .init();
    } else if std::io::stderr().is_terminal() {
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

/// The exit code for an error that ended a command: [`error::code_for`] with the classifier of
/// every layer whose errors carry their own code.
pub(crate) fn code_for(err: &anyhow::Error) -> Code {
    error::code_for(err, &[ApiError::classify])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ApiError {
        ApiError::Status {
            method: "GET",
            url: "https://mm.example.org/api/v4/users/me".into(),
            status,
            reason: "",
            id: None,
            server: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn api_errors_keep_their_exit_codes_under_context() {
        for (e, want) in [
            (status(401), Code::Auth),
            (status(302), Code::Unreachable),
            (status(500), Code::Failure),
            (ApiError::Cancelled, Code::Interrupted),
            (
                ApiError::Tls {
                    url: "u".into(),
                    detail: "d".into(),
                },
                Code::Unreachable,
            ),
        ] {
            let err = anyhow::Error::new(e).context("team acme");
            assert_eq!(code_for(&err), want, "{err:#}");
            // Without the API's classifier the same chain is a plain failure.
            assert_eq!(crate::error::code_for(&err, &[]), Code::Failure, "{err:#}");
        }
    }
}
