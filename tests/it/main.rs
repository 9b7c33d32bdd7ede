//! End-to-end tests: the real `matterbak` binary against the in-process fake server.

mod backup;
mod config_errors;
mod oracle;
mod rerun;
mod util;
