//! credentials.json: user, password or token, and the server URL.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::netrc::Netrc;
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

#[derive(Debug, Default, Deserialize)]
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

/// The credentials file read when `--credentials` is not given (if it exists).
pub const DEFAULT_CREDENTIALS: &str = "credentials.json";

/// What the command line and the environment say about logging in. Flags and their variables
/// (`--url`/`MATTERBAK_URL`, `--user`/`MATTERBAK_USER`) are merged by clap already; secrets
/// are never flags (other users can read a command line).
#[derive(Debug, Default, Clone)]
pub struct LoginSources {
    /// `--url` or `MATTERBAK_URL`.
    pub url: Option<String>,
    /// `--user` or `MATTERBAK_USER`.
    pub user: Option<String>,
    /// `MATTERBAK_TOKEN`.
    pub token: Option<Secret>,
    /// `MATTERBAK_PASSWORD`.
    pub password: Option<Secret>,
    /// `--credentials FILE` (it must exist); `None`: [`DEFAULT_CREDENTIALS`] if it exists.
    pub credentials: Option<PathBuf>,
    /// `$NETRC`, or `~/.netrc`; `None` when there is no home directory.
    pub netrc: Option<PathBuf>,
}

impl LoginSources {
    /// The environment's part: `MATTERBAK_TOKEN`, `MATTERBAK_PASSWORD` and the netrc file's
    /// place (`NETRC`, `HOME`). Empty variables count as unset.
    pub fn from_env(
        url: Option<String>,
        user: Option<String>,
        credentials: Option<PathBuf>,
    ) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let netrc = var("NETRC").map(PathBuf::from).or_else(|| {
            var("HOME")
                .or_else(|| var("USERPROFILE"))
                .map(|h| Path::new(&h).join(".netrc"))
        });
        LoginSources {
            url,
            user,
            token: var("MATTERBAK_TOKEN").map(Secret::new),
            password: var("MATTERBAK_PASSWORD").map(Secret::new),
            credentials,
            netrc,
        }
    }
}

/// Who logs in where, and how: merged from the flags, the environment, the credentials file
/// and the netrc file, in that order of precedence.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub login: Login,
    /// The API base, always ending in `/api/v4` (no trailing slash).
    pub api_url: String,
    /// Where the password or token came from, for messages: `MATTERBAK_PASSWORD`,
    /// `credentials file credentials.json`, `/home/me/.netrc`, ...
    pub secret_from: String,
}

impl Credentials {
    /// Reads the credentials file of `--credentials` alone (no flags, environment or netrc).
    ///
    /// # Errors
    /// A [`Fatal`] usage error naming the file and the field.
    pub fn load(path: &Path) -> Result<Self, Fatal> {
        Self::resolve(&LoginSources {
            credentials: Some(path.to_path_buf()),
            ..LoginSources::default()
        })
    }

    /// Merges every source: for each of url, user and secret the first source that has it wins
    /// (flag, environment, credentials file, netrc). A token beats a password of the same source.
    ///
    /// # Errors
    /// A [`Fatal`] usage error: an unreadable or invalid credentials file, a bad URL, or what is
    /// still missing with every place it could come from.
    pub fn resolve(src: &LoginSources) -> Result<Self, Fatal> {
        Self::resolve_with(src, Path::new(DEFAULT_CREDENTIALS))
    }

    fn resolve_with(src: &LoginSources, default_file: &Path) -> Result<Self, Fatal> {
        let (path, file) = match &src.credentials {
            Some(p) => (p.clone(), Some(read_file(p)?)),
            None if default_file.exists() => {
                (default_file.to_path_buf(), Some(read_file(default_file)?))
            }
            None => (default_file.to_path_buf(), None),
        };
        let fname = path.display().to_string();
        let file_found = file.is_some();
        let file = file.unwrap_or_default();
        let text = |s: Option<String>| s.filter(|v| !v.trim().is_empty());

        let api_url = match (text(src.url.clone()), text(file.url)) {
            (Some(u), _) => Some(
                normalize_url(&u)
                    .map_err(|why| Fatal::usage(format!("--url (or MATTERBAK_URL): {why}")))?,
            ),
            (None, Some(u)) => Some(normalize_url(&u).map_err(|why| {
                Fatal::usage(format!("credentials file {fname}: field \"url\": {why}"))
            })?),
            (None, None) => None,
        };
        let mut user = text(src.user.clone()).or(text(file.user));
        // The secret that wins, with where it came from (for messages) and the name to give
        // when it is malformed (`check_secret`).
        let mut login = pick(src.token.clone(), src.password.clone()).map(|l| {
            let var = match l {
                Login::Token(_) => "MATTERBAK_TOKEN",
                Login::Password(_) => "MATTERBAK_PASSWORD",
            };
            (
                l,
                var.to_string(),
                format!("the environment variable {var}"),
            )
        });
        if login.is_none() {
            login = pick(file.token, file.password).map(|l| {
                let field = match l {
                    Login::Token(_) => "token",
                    Login::Password(_) => "password",
                };
                let place = format!("field \"{field}\" of the credentials file {fname}");
                (l, format!("credentials file {fname}"), place)
            });
        }
        let mut netrc_note = String::new();
        if let (Some(url), Some(netrc), true) =
            (&api_url, &src.netrc, user.is_none() || login.is_none())
        {
            let host = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            match read_netrc(netrc) {
                Some(n) => match n.find(&host, user.as_deref()) {
                    Some(e) => {
                        if user.is_none() {
                            user = e.login.clone().filter(|l| !l.is_empty());
                        }
                        if login.is_none() {
                            if let Some(pw) = e.password.clone().filter(|p| !p.expose().is_empty())
                            {
                                let from = netrc.display().to_string();
                                let place = format!("the password for {host} in {from}");
                                login = Some((Login::Password(pw), from, place));
                            }
                        }
                    }
                    None => {
                        netrc_note = format!("{} has no entry for {host}", netrc.display());
                        if let Some(u) = &user {
                            netrc_note.push_str(&format!(" with login {u}"));
                        }
                    }
                },
                None => netrc_note = format!("{} does not exist", netrc.display()),
            }
        }
        if !file_found && api_url.is_none() && user.is_none() && login.is_none() {
            return Err(Fatal::usage(format!(
                "no login configured: {fname} does not exist and no --url, --user, MATTERBAK_URL, MATTERBAK_USER, MATTERBAK_TOKEN or MATTERBAK_PASSWORD is given
  next step: copy credentials.example.json to {fname} and fill in url, user and password (or token),
  or use those options or variables; matterbak --help lists every option"
            )));
        }
        let mut missing = Vec::new();
        if api_url.is_none() {
            missing.push(format!(
                "the server URL (pass --url, set MATTERBAK_URL, or put \"url\" in {fname}, e.g. https://mattermost.example.org)"
            ));
        }
        if user.is_none() {
            missing.push(format!(
                "the user name (pass --user, set MATTERBAK_USER, put \"user\" in {fname}, or a login in ~/.netrc)"
            ));
        }
        if login.is_none() {
            missing.push(format!(
                "a password or token (set MATTERBAK_TOKEN or MATTERBAK_PASSWORD, put \"token\" or \"password\" in {fname}, or a password in ~/.netrc)"
            ));
        }
        match (api_url, user, login) {
            (Some(api_url), Some(user), Some((login, secret_from, place))) => {
                check_secret(&login, &place)?;
                Ok(Credentials {
                    user,
                    login,
                    api_url,
                    secret_from,
                })
            }
            _ => {
                let mut notes = Vec::new();
                if !file_found {
                    notes.push(format!("{fname} does not exist"));
                }
                if !netrc_note.is_empty() {
                    notes.push(netrc_note);
                }
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", notes.join("; "))
                };
                Err(Fatal::usage(format!(
                    "cannot log in: missing {}{notes}",
                    missing.join("; and ")
                )))
            }
        }
    }
}

/// A token beats a password of the same source; empty values count as missing.
fn pick(token: Option<Secret>, password: Option<Secret>) -> Option<Login> {
    let token = token.filter(|t| !t.expose().is_empty());
    let password = password.filter(|p| !p.expose().is_empty());
    match (token, password) {
        (Some(t), _) => Some(Login::Token(t)),
        (_, Some(p)) => Some(Login::Password(p)),
        _ => None,
    }
}

/// Refuses a password or token with whitespace at either end or a control character
/// anywhere: such a secret is almost always a copying mistake (an env file with CRLF line
/// endings leaves a CR at the end of each value) rather than the secret itself. Sent as it is,
/// a token with a CR is no valid HTTP header and a password with one is rejected, so the run
/// failed with a message far from the cause; stripping it instead would log in with a secret
/// other than the one written down, and a warning goes unread in cron. Tokens never contain
/// either; a password that really ends in a space cannot be used (a token can). The message
/// names where the secret came from and what is wrong, never the secret.
fn check_secret(login: &Login, place: &str) -> Result<(), Fatal> {
    let (what, secret) = match login {
        Login::Token(t) => ("token", t.expose()),
        Login::Password(p) => ("password", p.expose()),
    };
    let name = |c: char| match c {
        '\r' => "a carriage return (CR)".to_string(),
        '\n' => "a line feed (LF)".to_string(),
        '\t' => "a tab".to_string(),
        ' ' => "a space".to_string(),
        c => format!("the character U+{:04X}", c as u32),
    };
    let bad = |c: char| c.is_whitespace() || c.is_control();
    let problem = if secret.trim_matches(bad).is_empty() {
        "is nothing but whitespace or control characters".to_string()
    } else if let Some(c) = secret.chars().last().filter(|c| bad(*c)) {
        format!("ends with {}", name(c))
    } else if let Some(c) = secret.chars().next().filter(|c| bad(*c)) {
        format!("starts with {}", name(c))
    } else if let Some(c) = secret.chars().find(|c| c.is_control()) {
        format!("contains {}", name(c))
    } else {
        return Ok(());
    };
    Err(Fatal::usage(format!(
        "the {what} from {place} {problem}: remove it there (a file with Windows line endings leaves a CR at the end of every line: convert it with `dos2unix FILE` or `sed -i 's/\\r$//' FILE`); a {what} with whitespace at either end or a control character is refused as a copying mistake"
    )))
}

fn read_file(path: &Path) -> Result<RawCredentials, Fatal> {
    let raw = super::load_json(path, "credentials")?;
    warn_if_readable_by_others(path);
    Ok(raw)
}

/// The netrc file, if it can be read (a broken one is warned about, not fatal: other tools
/// own it too).
fn read_netrc(path: &Path) -> Option<Netrc> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            warn_if_readable_by_others(path);
            Some(Netrc::parse(&text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!("cannot read {}: {e}; not using it", path.display());
            None
        }
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
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("credentials.json");
        std::fs::write(&p, text).unwrap();
        Credentials::load(&p)
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

    #[test]
    fn issue18_a_secret_with_whitespace_or_control_characters_is_refused_naming_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let none = d.join("credentials.json");
        let mut s = src(d);
        s.url = Some("https://mm.example".into());
        s.user = Some("alice".into());
        for (tok, says) in [
            ("tok-secret\r", "ends with a carriage return"),
            ("tok-secret\r\n", "ends with a line feed"),
            (" tok-secret", "starts with a space"),
            ("tok\u{7f}secret", "contains the character U+007F"),
            ("\r", "nothing but whitespace"),
        ] {
            s.token = Some(Secret::new(tok));
            let e = Credentials::resolve_with(&s, &none)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("MATTERBAK_TOKEN") && e.contains(says) && !e.contains("secret"),
                "{e}"
            );
        }
        // Inside a password, a space is fine.
        s.token = None;
        s.password = Some(Secret::new("pass word"));
        assert!(Credentials::resolve_with(&s, &none).is_ok());
        let file = d.join("c.json");
        std::fs::write(&file, "{\"password\": \"pw\\t\"}").unwrap();
        let e = Credentials::resolve_with(
            &LoginSources {
                credentials: Some(file.clone()),
                ..s.clone()
            },
            &none,
        );
        // The environment's password wins: the file's is not used, so not checked.
        assert!(e.is_ok());
        s.password = None;
        s.credentials = Some(file);
        let e = Credentials::resolve_with(&s, &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("field \"password\" of the credentials file") && e.contains("a tab"),
            "{e}"
        );
        std::fs::write(
            d.join("netrc"),
            "machine mm.example login alice password \"pw\u{1}\"",
        )
        .unwrap();
        s.credentials = None;
        let e = Credentials::resolve_with(&s, &none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("netrc") && e.contains("U+0001"), "{e}");
    }

    fn src(dir: &Path) -> LoginSources {
        LoginSources {
            netrc: Some(dir.join("netrc")),
            ..LoginSources::default()
        }
    }

    #[test]
    fn flags_and_env_beat_the_file_which_beats_netrc() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = d.join("c.json");
        std::fs::write(
            &file,
            r#"{"user":"fu","password":"file-pw","url":"https://file.example"}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("netrc"),
            "machine env.example login nu password netrc-pw",
        )
        .unwrap();
        let mut s = src(d);
        s.credentials = Some(file.clone());
        let c = Credentials::resolve_with(&s, &file).unwrap();
        assert_eq!(c.user, "fu");
        assert_eq!(c.api_url, "https://file.example/api/v4");
        assert!(matches!(&c.login, Login::Password(p) if p.expose() == "file-pw"));
        assert!(c.secret_from.contains("c.json"), "{}", c.secret_from);

        s.url = Some("https://env.example".into());
        s.user = Some("eu".into());
        s.password = Some(Secret::new("env-pw"));
        let c = Credentials::resolve_with(&s, &file).unwrap();
        assert_eq!(
            (c.user.as_str(), c.api_url.as_str()),
            ("eu", "https://env.example/api/v4")
        );
        assert!(matches!(&c.login, Login::Password(p) if p.expose() == "env-pw"));
        assert_eq!(c.secret_from, "MATTERBAK_PASSWORD");

        // a token beats a password of the same source
        s.token = Some(Secret::new("env-tok"));
        let c = Credentials::resolve_with(&s, &file).unwrap();
        assert!(matches!(&c.login, Login::Token(t) if t.expose() == "env-tok"));
    }

    #[test]
    fn env_alone_needs_no_file_and_netrc_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let none = d.join("credentials.json");
        let mut s = src(d);
        s.url = Some("https://mm.example/api".into());
        s.user = Some("alice".into());
        s.token = Some(Secret::new("tok"));
        let c = Credentials::resolve_with(&s, &none).unwrap();
        assert!(matches!(c.login, Login::Token(_)));

        s.token = None;
        let e = Credentials::resolve_with(&s, &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("MATTERBAK_PASSWORD")
                && e.contains("MATTERBAK_TOKEN")
                && e.contains("netrc")
                && e.contains("credentials.json does not exist")
                && !e.contains("the user name"),
            "{e}"
        );

        std::fs::write(
            d.join("netrc"),
            "machine mm.example login bob password b\nmachine mm.example\n login alice\n password a\n",
        )
        .unwrap();
        let c = Credentials::resolve_with(&s, &none).unwrap();
        assert!(matches!(&c.login, Login::Password(p) if p.expose() == "a"));
        assert!(c.secret_from.ends_with("netrc"));
        s.user = None;
        let c = Credentials::resolve_with(&s, &none).unwrap();
        assert_eq!(c.user, "bob");

        let e = Credentials::resolve_with(&src(d), &none)
            .unwrap_err()
            .to_string();
        for what in [
            "--url",
            "MATTERBAK_URL",
            "--user",
            "MATTERBAK_USER",
            "MATTERBAK_TOKEN",
        ] {
            assert!(e.contains(what), "{what}: {e}");
        }
    }

    #[test]
    fn an_explicit_file_must_exist_and_empty_values_are_unset() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = src(dir.path());
        s.credentials = Some(dir.path().join("nope.json"));
        let e = Credentials::resolve(&s).unwrap_err().to_string();
        assert!(e.contains("nope.json"), "{e}");
        let mut s = src(dir.path());
        s.url = Some("https://h".into());
        s.user = Some(" ".into());
        s.password = Some(Secret::new(""));
        let e = Credentials::resolve_with(&s, &dir.path().join("x.json")).unwrap_err();
        assert!(e.to_string().contains("user name"), "{e}");
        s.url = Some("h.example".into());
        let e = Credentials::resolve_with(&s, &dir.path().join("x.json")).unwrap_err();
        assert!(e.to_string().contains("--url"), "{e}");
    }
}
