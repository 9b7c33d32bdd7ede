//! Exports: read a backup (data dir or zip) and write it in another form.
//!
//! - [`source`]: the files of a data dir or a zip, by relative path.
//! - [`model`]: teams, channels, posts, users and emojis of a backup.
//! - [`filter`]: the selection every export takes, and the rule of which posts are kept.
//! - [`md`], [`hgf`], [`jsonl`], [`html`], [`csv`], [`txt`]: the formats; [`channels`]: writing
//!   channel by channel, into one output or a file each.

pub mod channels;
pub mod csv;
pub mod filter;
pub mod hgf;
pub mod html;
pub mod jsonl;
pub mod md;
pub mod model;
pub mod out;
pub mod source;
pub mod time;
pub mod txt;
