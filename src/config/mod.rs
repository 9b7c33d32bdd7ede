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
    let mut de = serde_json::Deserializer::from_str(text);
    let fail = |e: serde_json::Error, at: &str| {
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
            "{what} file {}: line {}, column {}: {}{msg}{hint}",
            path.display(),
            e.line(),
            e.column(),
            // (an unknown key at the top is named by the message already)
            if msg.contains(&format!("`{at}`")) {
                String::new()
            } else {
                json_path(at)
            }
        ))
    };
    let v = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = e.path().to_string();
        fail(e.into_inner(), &at)
    })?;
    de.end().map_err(|e| fail(e, ""))?;
    Ok(v)
}

/// `` `teams.engineering.include[2]`: `` for a path inside the document, nothing for its root.
pub(crate) fn json_path(path: &str) -> String {
    if path.is_empty() || path == "." || path == "?" {
        String::new()
    } else {
        format!("`{path}`: ")
    }
}
