//! Logging in and out, shared by every command that talks to the server (`backup`, `list`):
//! where the credentials come from, the TLS settings, the MFA prompt, and one place that turns
//! a failed login into the documented exit code and a hint.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::api::model::{Raw, User};
use crate::api::{ApiError, Client, ClientOptions, MinSpeed, RetryPolicy};
use crate::cancel::Cancel;
use crate::cli::ConnectArgs;
use crate::config::{Credentials, Login, LoginSources, Secret};
use crate::error::{Code, Fatal};

/// The server answers this when the account has MFA and the code is missing or malformed.
const MFA_NEEDED: &str = "mfa.validate_token.authenticate.app_error";
/// ... and this when the code is wrong (or was used already).
const MFA_BAD_CODE: &str = "api.user.check_user_mfa.bad_code.app_error";

/// Who logs in where: flags, environment, credentials file, netrc, in that order.
///
/// # Errors
/// Exit code 2, naming what is missing and every place it could come from.
pub fn credentials(c: &ConnectArgs) -> Result<Credentials, Fatal> {
    Credentials::resolve(&LoginSources::from_env(
        c.url.clone(),
        c.user.clone(),
        c.credentials.clone(),
    ))
}

/// The client's settings from the shared options; reads the `--ca-cert` file and warns about
/// `--insecure` (on standard error directly, so that no log filter hides it).
///
/// # Errors
/// Exit code 2 for a CA file that cannot be read or holds no certificate.
pub fn client_options(
    c: &ConnectArgs,
    rate_limit: f64,
    retry_wait_scale: f64,
) -> Result<ClientOptions, Fatal> {
    let mut ca_certs = Vec::new();
    if let Some(p) = &c.ca_cert {
        let what = format!("CA file {} (--ca-cert or MATTERBAK_CA_CERT)", p.display());
        let pem = std::fs::read(p).map_err(|e| Fatal::usage(format!("cannot read {what}: {e}")))?;
        ca_certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Fatal::usage(format!("{what}: {e}")))?;
        if ca_certs.is_empty() {
            return Err(Fatal::usage(format!(
                "{what} holds no certificate: it must be PEM (-----BEGIN CERTIFICATE-----)"
            )));
        }
    }
    if c.insecure {
        eprintln!(
            "matterbak: warning: --insecure: the server's certificate is not checked, so anyone on the network path can read the password and the data (use --ca-cert FILE instead)"
        );
    }
    Ok(ClientOptions {
        rate_limit,
        connect_timeout: Duration::from_secs_f64(c.connect_timeout.max(0.1)),
        read_timeout: Duration::from_secs_f64(c.timeout.max(0.1)),
        min_speed: MinSpeed {
            bytes_per_sec: c.min_speed,
            over: Duration::from_secs_f64(c.min_speed_time),
        },
        retry: RetryPolicy {
            attempts: c.retries.saturating_add(1),
            scale: retry_wait_scale,
            ..RetryPolicy::default()
        },
        ca_certs,
        insecure: c.insecure,
    })
}

/// A client logged in as the user of the credentials.
pub struct Session {
    /// Shared with the tasks that send requests of the backup beside its engine.
    pub client: Arc<Client>,
    /// Logged in with a password: the session is ours to end ([`Session::logout`]).
    password: bool,
}

impl Session {
    /// Builds the client and logs in (`POST /users/login`, or `GET /users/me` with a token);
    /// returns the session and the user it belongs to. When the server wants an MFA code and
    /// `mfa_code` is `None`, asks for it on a terminal.
    ///
    /// # Errors
    /// Exit code 4 for rejected credentials or MFA code, 5 for a URL that is not a Mattermost
    /// API, does not answer, or fails TLS, 130 when cancelled; each says what to check.
    pub async fn open(
        creds: &Credentials,
        mfa_code: Option<String>,
        opts: &ClientOptions,
        cancel: Cancel,
    ) -> Result<(Session, Raw<User>)> {
        let mut client = Client::new(&creds.api_url, opts, cancel)?;
        let kind = match creds.login {
            Login::Password(_) => "password",
            Login::Token(_) => "token",
        };
        // Said once the login worked: a failed one is all in its error (and retries).
        tracing::debug!("logging in to {} as {}", creds.api_url, creds.user);
        tracing::debug!("with the {kind} from {}", creds.secret_from);
        let code = mfa_code.filter(|c| !c.trim().is_empty()).map(Secret::new);
        let me = match client.login(&creds.user, &creds.login, code.as_ref()).await {
            Ok(me) => me,
            Err(e) if e.server_id() == Some(MFA_NEEDED) && code.is_none() => {
                let Some(code) = ask_mfa_code(&creds.user)? else {
                    return Err(login_error(e, creds, false));
                };
                client
                    .login(&creds.user, &creds.login, Some(&code))
                    .await
                    .map_err(|e| login_error(e, creds, true))?
            }
            Err(e) => return Err(login_error(e, creds, code.is_some())),
        };
        if !me.v.username.eq_ignore_ascii_case(&creds.user) && !creds.user.contains('@') {
            tracing::warn!(
                "the login names user {}, but the server says this is {}",
                creds.user,
                me.v.username
            );
        }
        tracing::info!("logged in to {} as {}", creds.api_url, me.v.username);
        let session = Session {
            client: Arc::new(client),
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

/// Asks for the MFA code when standard input is a terminal; `None` otherwise or when the
/// answer is empty. (The code is valid for seconds only, so it is not hidden while typed.)
fn ask_mfa_code(user: &str) -> Result<Option<Secret>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(None);
    }
    eprint!("MFA code for {user} (from the authenticator app): ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let code = line.trim();
    Ok((!code.is_empty()).then(|| Secret::new(code)))
}

/// Says what to check when login fails.
fn login_error(e: ApiError, creds: &Credentials, code_sent: bool) -> anyhow::Error {
    let from = &creds.secret_from;
    let user = &creds.user;
    match (&e, &creds.login) {
        (ApiError::Status { .. }, _) if e.server_id() == Some(MFA_BAD_CODE) => Fatal::auth(format!(
            "login as {user} failed: the MFA code was not accepted: it is wrong, was used already, or has expired (codes change every 30 seconds); pass the current one with --mfa-token CODE"
        ))
        .into(),
        (ApiError::Status { .. }, _) if e.server_id() == Some(MFA_NEEDED) && code_sent => {
            Fatal::auth(format!(
                "login as {user} failed: the MFA code is malformed: give the 6 digits the authenticator app shows (--mfa-token CODE)"
            ))
            .into()
        }
        (ApiError::Status { .. }, _) if e.server_id() == Some(MFA_NEEDED) => Fatal::auth(format!(
            "{user} logs in with multi-factor authentication: pass --mfa-token CODE (or set MATTERBAK_MFA_TOKEN) with the current code of the authenticator app, or run on a terminal to be asked; for unattended runs create a personal access token and set MATTERBAK_TOKEN"
        ))
        .into(),
        (ApiError::Status { status: 401, .. }, Login::Password(_)) => {
            // The server's error id for `-v` (it does not say which of the two was wrong).
            tracing::debug!("{e}");
            Fatal::auth(format!(
                "login as {user} failed: wrong user name or password, or the account is inactive (the password came from {from})"
            ))
            .into()
        }
        (ApiError::Status { status: 401, .. }, Login::Token(_)) => Fatal::auth(format!(
            "the token from {from} was rejected: it expired or was revoked (create a new personal access token, or log in with a password)"
        ))
        .into(),
        (ApiError::Status { status: 404 | 405, .. }, _) => Fatal {
            code: Code::Unreachable,
            msg: format!("{e} (the url does not look like a Mattermost server: it should be https://your.server or https://your.server/api; check --url, MATTERBAK_URL or the credentials file)"),
        }
        .into(),
        _ => anyhow::Error::new(e).context("logging in"),
    }
}
