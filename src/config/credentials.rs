//! credentials.json: user, password or token, and the server URL.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::error::Fatal;

/// A password or token. Its `Debug` and `Display` never show the value.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only for the HTTP layer that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    user: Option<String>,
    password: Option<Secret>,
    token: Option<Secret>,
    url: Option<String>,
}

/// How to log in.
#[derive(Debug, Clone)]
pub enum Login {
    Password(Secret),
    /// A session token or personal access token, sent as `Authorization: Bearer`.
    Token(Secret),
}

/// The validated content of credentials.json.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub login: Login,
    /// The API base, always ending in `/api/v4` (no trailing slash).
    pub api_url: String,
}

impl Credentials {
    /// # Errors
    /// A [`Fatal`] usage error naming the file and the field.
    pub fn load(path: &Path) -> Result<Self, Fatal> {
        let raw: RawCredentials = super::load_json(path, "credentials")?;
        warn_if_readable_by_others(path);
        Self::from_raw(raw, path)
    }

    fn from_raw(raw: RawCredentials, path: &Path) -> Result<Self, Fatal> {
        let p = path.display();
        let user = raw.user.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            Fatal::usage(format!(
                "credentials file {p}: field \"user\" is missing or empty"
            ))
        })?;
        let url = raw.url.ok_or_else(|| {
            Fatal::usage(format!(
                "credentials file {p}: field \"url\" is missing (e.g. \"https://mattermost.example.org/api\")"
            ))
        })?;
        let api_url = normalize_url(&url)
            .map_err(|why| Fatal::usage(format!("credentials file {p}: field \"url\": {why}")))?;
        let login = match (raw.token, raw.password) {
            (Some(t), _) if !t.expose().is_empty() => Login::Token(t),
            (_, Some(pw)) if !pw.expose().is_empty() => Login::Password(pw),
            _ => {
                return Err(Fatal::usage(format!(
                    "credentials file {p}: give either \"password\" or \"token\" (a session or personal access token)"
                )))
            }
        };
        Ok(Credentials {
            user,
            login,
            api_url,
        })
    }
}

/// A secret file should be readable by its owner only.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    "{} can be read by other users; protect it with: chmod 600 {}",
                    path.display(),
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Accepts `https://host`, `https://host/api`, `https://host/api/v4` (and subpath installs,
/// trailing slashes) and returns the `.../api/v4` base.
pub fn normalize_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{url}` must start with https:// (or http://)"));
    }
    if parsed.host_str().is_none() {
        return Err(format!("`{url}` has no host name"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("`{url}` must not contain `?` or `#`"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("put the user name and password in their own fields, not in the URL".into());
    }
    let mut base = parsed.as_str().trim_end_matches('/').to_string();
    for suffix in ["/api/v4", "/api"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped.to_string();
            break;
        }
    }
    Ok(format!("{base}/api/v4"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_all_three_forms() {
        for u in [
            "https://mm.example.org",
            "https://mm.example.org/",
            "https://mm.example.org/api",
            "https://mm.example.org/api/",
            "https://mm.example.org/api/v4",
            "https://mm.example.org/api/v4/",
        ] {
            assert_eq!(
                normalize_url(u).unwrap(),
                "https://mm.example.org/api/v4",
                "{u}"
            );
        }
        assert_eq!(
            normalize_url("http://h:8065/chat/api").unwrap(),
            "http://h:8065/chat/api/v4"
        );
        assert!(normalize_url("mm.example.org").is_err());
        assert!(normalize_url("ftp://mm.example.org").is_err());
        assert!(normalize_url("https://u:p@mm.example.org").is_err());
    }

    fn parse(text: &str) -> Result<Credentials, Fatal> {
        let p = Path::new("credentials.json");
        let raw: RawCredentials = super::super::parse_json(text, p, "credentials")?;
        Credentials::from_raw(raw, p)
    }

    #[test]
    fn password_and_token() {
        let c = parse(r#"{"user":"a","password":"pw","url":"https://h/api"}"#).unwrap();
        assert!(matches!(c.login, Login::Password(_)));
        let c = parse(r#"{"user":"a","token":"tok","url":"https://h"}"#).unwrap();
        assert!(matches!(c.login, Login::Token(_)));
    }

    #[test]
    fn errors_name_the_field_and_never_the_secret() {
        let e = parse(r#"{"user":"a","url":"https://h"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("password") && e.contains("token"), "{e}");
        let e = parse(r#"{"user":"a","pasword":"hunter2","url":"https://h"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pasword") && !e.contains("hunter2"), "{e}");
        let e = parse(r#"{"user":"a","password":"pw",}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("comma"), "{e}");
        let e = parse(r#"{"password":"pw","url":"https://h"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"user\""), "{e}");
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
