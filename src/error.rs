//! Exit codes: the one table of them (for `--help`, the man page and the docs) and the one place
//! where an error is turned into one.

use std::process::ExitCode;

use crate::cancel::Cancelled;

/// The documented exit codes; what each means is in [`EXIT_CODES`].
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

/// One row of the exit-code table.
#[derive(Debug, Clone, Copy)]
pub struct ExitStatus {
    pub code: Code,
    /// One line for `--help`'s EXIT STATUS (and so the man page).
    pub help: &'static str,
    /// The meaning in the docs' table, in Markdown.
    pub doc: &'static str,
}

/// The exit codes of matterbak, in order: `--help`, the man page and the table in the docs are
/// made from (or tested against) this table.
pub const EXIT_CODES: &[ExitStatus] = &[
    ExitStatus {
        code: Code::Ok,
        help: "success: everything selected was backed up and zipped",
        doc: "success: everything selected was backed up and zipped",
    },
    ExitStatus {
        code: Code::Failure,
        help: "a run-time error ended the run (disk full, server error, ...)",
        doc: "a run-time error ended the run (disk full, a server error, ...)",
    },
    ExitStatus {
        code: Code::Usage,
        help: "bad command line or configuration file (nothing was changed)",
        doc: "bad command line or configuration file (or a data dir path that is a file); nothing \
              was changed",
    },
    ExitStatus {
        code: Code::Partial,
        help: "partial: some items failed, the rest was backed up",
        doc:
            "some items (a channel, an attachment, the users or the emojis) kept failing, the rest \
              was backed up; the summary lists them and the next run tries them again. For an \
              export: the backup is damaged (see [what damage does](operations.md#damage-and-the-exports)), \
              the files named in warnings were left out or read in part, the rest was exported",
    },
    ExitStatus {
        code: Code::Auth,
        help: "authentication failed (wrong password or MFA code, expired or revoked token)",
        doc:
            "authentication failed: wrong password or MFA code, an MFA code needed but not given, \
              expired or revoked token",
    },
    ExitStatus {
        code: Code::Unreachable,
        help: "server unreachable, TLS failure, or the URL is not a Mattermost API",
        doc: "server unreachable, TLS failure (an untrusted certificate: see `--ca-cert`), or the \
              URL does not answer as a Mattermost API",
    },
    ExitStatus {
        code: Code::Locked,
        help: "another matterbak run holds the data dir's lock",
        doc: "another matterbak run is backing up into the same data dir (it holds \
              `.matterbak.lock`)",
    },
    ExitStatus {
        code: Code::Interrupted,
        help: "interrupted by Ctrl+C or SIGTERM (a rerun continues where it stopped)",
        doc: "interrupted by Ctrl+C or SIGTERM; nothing half-written is kept, a rerun continues",
    },
];

/// The `EXIT STATUS:` block of a command's `--help`: the codes the command can end with, each
/// with the table's line or the command's own wording (`Some`).
pub fn exit_status_help(codes: &[(Code, Option<&str>)]) -> String {
    let mut s = String::from("EXIT STATUS:");
    for (code, own) in codes {
        let help = own.unwrap_or_else(|| code.status().help);
        s.push_str(&format!("\n    {:<5}{help}", *code as u8));
    }
    s
}

/// `EXIT STATUS:` with every code and the table's lines (the backup, the default command).
pub fn exit_status_help_all() -> String {
    let all: Vec<_> = EXIT_CODES.iter().map(|e| (e.code, None)).collect();
    exit_status_help(&all)
}

/// The exit-code table of the docs, in Markdown (a test keeps the docs equal to it).
pub fn exit_codes_markdown() -> String {
    let mut s = String::from("| code | `outcome` | meaning |\n|---|---|---|\n");
    for e in EXIT_CODES {
        s.push_str(&format!(
            "| {} | `{}` | {} |\n",
            e.code as u8,
            e.code.name(),
            e.doc
        ));
    }
    s
}

impl Code {
    /// The code's row of [`EXIT_CODES`].
    fn status(self) -> &'static ExitStatus {
        EXIT_CODES
            .iter()
            .find(|e| e.code == self)
            .expect("every code is in EXIT_CODES")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_code_once_in_order() {
        let codes: Vec<u8> = EXIT_CODES.iter().map(|e| e.code as u8).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 130]);
    }

    #[test]
    fn help_lines_line_up() {
        let help = exit_status_help(&[(Code::Ok, Some("done")), (Code::Interrupted, None)]);
        assert_eq!(
            help,
            "EXIT STATUS:\n    0    done\n    130  interrupted by Ctrl+C or SIGTERM (a rerun \
             continues where it stopped)"
        );
    }

    /// Every exit-code table in README.md and docs/*.md (a Markdown table with a `| 0 |` row) is
    /// the one made from [`EXIT_CODES`].
    #[test]
    fn the_docs_tables_equal_the_generated_one() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("README.md")];
        if let Ok(dir) = std::fs::read_dir(root.join("docs")) {
            let mut md: Vec<_> = dir
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .collect();
            md.sort();
            files.extend(md);
        }
        let want = exit_codes_markdown();
        let mut found = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let mut i = 0;
            while i < lines.len() {
                if !lines[i].starts_with('|') {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < lines.len() && lines[i].starts_with('|') {
                    i += 1;
                }
                let table = &lines[start..i];
                if table.iter().any(|l| l.starts_with("| 0 |")) {
                    let got: String = table.iter().map(|l| format!("{l}\n")).collect();
                    assert_eq!(
                        got,
                        want,
                        "{} line {}: the exit-code table differs from error::EXIT_CODES",
                        file.display(),
                        start + 1
                    );
                    found += 1;
                }
            }
        }
        assert!(found > 0, "no exit-code table in README.md or docs/*.md");
    }
}
