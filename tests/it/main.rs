//! End-to-end tests: the real `matterbak` binary against the in-process fake server.

mod backup;
mod bounds;
mod browser;
mod config_errors;
mod exact;
mod export;
mod export_digests;
mod export_interrupt;
mod faults;
mod gzip;
mod hostile;
mod html;
mod incremental;
mod jsonl;
mod links;
mod list;
mod login;
mod operators;
mod oracle;
mod policy;
mod readers;
mod rerun;
mod robust;
mod terminal;
mod util;
mod zip;
