//! End-to-end tests: the real `matterbak` binary against the in-process fake server.

mod backup;
mod browser;
mod config_errors;
mod export;
mod faults;
mod gzip;
mod hostile;
mod html;
mod incremental;
mod jsonl;
mod list;
mod login;
mod operators;
mod oracle;
mod rerun;
mod robust;
mod terminal;
mod util;
mod zip;
mod zip_safety;
