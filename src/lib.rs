//! matterbak: back up what one Mattermost user can see into a plain data directory and a zip.
//!
//! Layers (each only talks to the one below it):
//! - [`commands`]: the CLI adapters (`backup` is the default command).
//! - [`fetch`]: the backup engine; pages through the API and hands every object to the store.
//! - [`api`]: the Mattermost HTTP client (auth, rate limit, typed endpoints). Never touches the disk.
//! - [`store`]: the data directory (layout, names, atomic writes; [`store::read`] reads a backup
//!   for the exports). Never speaks HTTP.
//! - [`archive`]: the zip of the data directory.
//! - [`export`]: reads a backup (data dir or zip) and writes HTML, Markdown, HGF or JSONL.
//! - [`search`]: finds posts in a backup (data dir or zip) with Mattermost's query syntax.
//! - [`model`]: types of the server's objects that every layer shares ([`model::ChannelKind`]).
//!
//! Beside them, used by all: [`error`] (exit codes), [`cancel`] (Ctrl+C), [`progress`] (counters
//! and the status line), [`units`] (byte counts for people).

#![forbid(unsafe_code)]

pub mod api;
pub mod archive;
pub mod cancel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod export;
pub mod fetch;
pub mod model;
pub mod progress;
pub mod search;
pub mod store;
pub mod units;

#[cfg(test)]
mod layering;
