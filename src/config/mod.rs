//! The two JSON configuration files of the original, credentials.json and channels.json, and
//! the other sources of a login: flags, environment variables and ~/.netrc.

mod channels;
mod credentials;
pub mod netrc;

pub use channels::{ChannelsConfig, GroupsConfig, TeamSelection};
pub use credentials::{Credentials, Login, LoginSources, Secret, DEFAULT_CREDENTIALS};

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::Fatal;

/// Reads and parses a JSON config file; every error names the file and says what to do.
pub(crate) fn load_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, Fatal> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Fatal::usage(format!(
            "cannot read {what} file {}: {e} (create it from {what}.example.json or pass --{what} FILE)",
            path.display()
        ))
    })?;
    parse_json(&text, path, what)
}

pub(crate) fn parse_json<T: DeserializeOwned>(
    text: &str,
    path: &Path,
    what: &str,
) -> Result<T, Fatal> {
    serde_json::from_str(text).map_err(|e| {
        let hint = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                " (a common cause is a comma after the last element of a list or object)"
            }
            _ => "",
        };
        // serde_json's message ends in " at line L column C"; say it our way.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Fatal::usage(format!(
            "{what} file {}: line {}, column {}: {msg}{hint}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}
