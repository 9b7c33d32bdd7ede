//! Logging in and out, shared by every command that talks to the server (`backup`, `list`):
//! one place that turns a failed login into the documented exit code and a hint.

use std::path::Path;

use anyhow::Result;

use crate::api::model::{Raw, User};
use crate::api::{ApiError, Client, ClientOptions};
use crate::cancel::Cancel;
use crate::config::{Credentials, Login};
use crate::error::{Code, Fatal};

/// A client logged in as the user of the credentials file.
pub struct Session {
    pub client: Client,
    /// Logged in with a password: the session is ours to end ([`Session::logout`]).
    password: bool,
}

impl Session {
    /// Builds the client and logs in (`POST /users/login`, or `GET /users/me` with a token);
    /// returns the session and the user it belongs to.
    ///
    /// # Errors
    /// Exit code 4 for rejected credentials, 5 for a URL that is not a Mattermost API or does
    /// not answer, 130 when cancelled; each names `creds_file` and says what to check.
    pub async fn open(
        creds: &Credentials,
        creds_file: &Path,
        opts: &ClientOptions,
        cancel: Cancel,
    ) -> Result<(Session, Raw<User>)> {
        let mut client = Client::new(&creds.api_url, opts, cancel)?;
        tracing::info!("logging in to {} as {}", creds.api_url, creds.user);
        let me = client
            .login(&creds.user, &creds.login)
            .await
            .map_err(|e| login_error(e, creds, creds_file))?;
        if !me.v.username.eq_ignore_ascii_case(&creds.user) && !creds.user.contains('@') {
            tracing::warn!(
                "the credentials file names user {}, but the server says this is {}",
                creds.user,
                me.v.username
            );
        }
        let session = Session {
            client,
            password: matches!(creds.login, Login::Password(_)),
        };
        Ok((session, me))
    }

    /// Ends a session opened with a password, so that nightly runs do not pile up sessions
    /// (a token's session is not ours to end). Not after Ctrl+C: the user wants out at once.
    /// A failed logout is only logged: the work is done.
    pub async fn logout(&self) {
        if self.password && !self.client.cancel.is_cancelled() {
            if let Err(e) = self.client.logout().await {
                tracing::debug!("logout failed: {e}");
            }
        }
    }
}

/// Says what to check when login fails.
fn login_error(e: ApiError, creds: &Credentials, file: &Path) -> anyhow::Error {
    let f = file.display();
    match (&e, &creds.login) {
        (ApiError::Status { status: 401, .. }, Login::Password(_)) => Fatal::auth(format!(
            "login as {} failed: wrong user name or password, or the account is inactive (check {f}){}",
            creds.user,
            e.server_id().map(|i| format!(" [{i}]")).unwrap_or_default()
        ))
        .into(),
        (ApiError::Status { status: 401, .. }, Login::Token(_)) => Fatal::auth(format!(
            "the token in {f} was rejected: it expired or was revoked (create a new personal access token, or log in with a password)"
        ))
        .into(),
        (ApiError::Status { status: 404 | 405, .. }, _) => Fatal {
            code: Code::Unreachable,
            msg: format!("{e} (the url in {f} does not look like a Mattermost server: it should be https://your.server or https://your.server/api)"),
        }
        .into(),
        _ => anyhow::Error::new(e).context("logging in"),
    }
}
