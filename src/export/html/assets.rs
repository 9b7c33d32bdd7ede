//! The style sheet and the script of the site, embedded in the binary and inlined into the pages
//! (so that a page works alone, from disk, and loads nothing but the site's own images).

/// The style of every page.
pub const CSS: &str = include_str!("assets/style.css");

/// The index's channel filter; the index works the same without it.
pub const INDEX_JS: &str = include_str!("assets/index.js");
