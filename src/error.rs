//! Exit codes and the one place where an error is turned into one.

use std::process::ExitCode;

use crate::cancel::Cancelled;

/// The documented exit codes (README.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Everything selected was backed up and zipped.
    Ok = 0,
    /// A run-time error not covered below (disk full, a server error that ended the run, ...).
    Failure = 1,
    /// Bad command line or configuration file; nothing was changed in the data dir.
    Usage = 2,
    /// Some items failed, the rest was backed up (the next run tries them again).
    Partial = 3,
    /// The server rejected the credentials (wrong password, expired or revoked token).
    Auth = 4,
    /// The server could not be reached, TLS failed, or the URL does not answer as a Mattermost API.
    Unreachable = 5,
    /// Another run holds the data dir's lock.
    Locked = 6,
    /// Interrupted by Ctrl+C or SIGTERM; a rerun continues.
    Interrupted = 130,
}

impl Code {
    /// The outcome's name in `--summary-json` (`"ok"`, `"partial"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::Failure => "failed",
            Code::Usage => "usage",
            Code::Partial => "partial",
            Code::Auth => "auth",
            Code::Unreachable => "unreachable",
            Code::Locked => "locked",
            Code::Interrupted => "interrupted",
        }
    }
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(c as u8)
    }
}

/// An error whose exit code is known where it is raised (configuration, usage).
#[derive(Debug, thiserror::Error)]
#[error("{msg}")]
pub struct Fatal {
    pub code: Code,
    pub msg: String,
}

impl Fatal {
    pub fn usage(msg: impl Into<String>) -> Self {
        Fatal {
            code: Code::Usage,
            msg: msg.into(),
        }
    }
    pub fn auth(msg: impl Into<String>) -> Self {
        Fatal {
            code: Code::Auth,
            msg: msg.into(),
        }
    }
}

/// Recognises the errors of one layer above this module in an error chain and gives their exit
/// code, `None` for any other error (the API client's: `api::ApiError::classify`).
pub type Classify = fn(&(dyn std::error::Error + 'static)) -> Option<Code>;

/// Maps an error chain to its exit code: the first classified cause wins. [`Fatal`] and
/// [`Cancelled`] are known here; the errors of the layers above are recognised by `classify`
/// (`commands` passes every layer's), so this module depends on none of them.
pub fn code_for(err: &anyhow::Error, classify: &[Classify]) -> Code {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Fatal>() {
            return f.code;
        }
        if cause.downcast_ref::<Cancelled>().is_some() {
            return Code::Interrupted;
        }
        if let Some(code) = classify.iter().find_map(|c| c(cause)) {
            return code;
        }
    }
    Code::Failure
}
