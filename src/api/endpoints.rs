//! One method per Mattermost endpoint that the backup uses.

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::value::RawValue;

use super::client::{content_type, identity, Client, MAX_IMAGE_BYTES};
use super::error::ApiError;
use super::listing::{Listing, Next};
use super::model::{Channel, Emoji, Image, Member, Post, PostList, Raw, Team, User};
use super::PER_PAGE;
use crate::config::{Login, Secret};

/// Where a page of posts starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// The newest page.
    Newest,
    /// Posts created strictly before this post.
    Before(String),
    /// The page at this offset (`page`, counted in pages of `per_page=200`) of all posts,
    /// newest first: the only way through more than a page of posts sharing one millisecond.
    Page(usize),
}

/// The latest time (ms since the epoch) an HTTP `Date` header (`Sat, 05 Dec 2026 07:43:51
/// GMT`) may stand for: it has whole seconds, so the last millisecond of its second.
pub(super) fn http_date_ms(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| d.timestamp_millis() + 999)
}

/// Is this the server's "no channels" error object?
fn no_channels_error(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct E {
        id: String,
    }
    let mut de = serde_json::Deserializer::from_slice(body).into_iter::<E>();
    matches!(de.next(), Some(Ok(e)) if e.id == "app.channel.get_channels.not_found.app_error")
}

/// Ids go into URL paths: refuse anything that is not a Mattermost id ([`crate::model::is_id`]).
fn check_id(id: &str) -> Result<&str, ApiError> {
    if crate::model::is_id(id) {
        Ok(id)
    } else {
        Err(ApiError::BadJson {
            url: String::new(),
            detail: format!("the server sent an invalid id `{}`", id.escape_debug()),
        })
    }
}

fn parse_all<T: for<'de> serde::Deserialize<'de>>(
    url: &str,
    items: Vec<Box<RawValue>>,
) -> Result<Vec<Raw<T>>, ApiError> {
    items
        .into_iter()
        .map(|r| {
            Raw::parse(r).map_err(|e| ApiError::BadJson {
                url: url.to_string(),
                detail: e.to_string(),
            })
        })
        .collect()
}

impl Client {
    /// Logs in and returns the user the session belongs to.
    ///
    /// With a password: `POST /users/login` (the token comes in the `Token` header), with the
    /// MFA code in the body's `token` field when one is given.
    /// With a token: `GET /users/me`.
    ///
    /// # Errors
    /// [`ApiError::Status`] 401 for bad credentials (id `mfa.validate_token.authenticate.app_error`:
    /// an MFA code is needed or malformed; `api.user.check_user_mfa.bad_code.app_error`: wrong
    /// code), `Connect`/`Tls`/`NotApi` for a wrong URL or certificate.
    pub async fn login(
        &mut self,
        user: &str,
        login: &Login,
        mfa_code: Option<&Secret>,
    ) -> Result<Raw<User>, ApiError> {
        match login {
            Login::Token(t) => {
                self.set_token(t.clone());
                self.me().await
            }
            Login::Password(pw) => {
                let mut body = serde_json::json!({ "login_id": user, "password": pw.expose() });
                if let Some(code) = mfa_code {
                    body["token"] = code.expose().trim().into();
                }
                let body = body.to_string();
                let path = "/users/login";
                let url = self.url(path);
                let (token, me) = self
                    .with_retry(&format!("POST {url}"), || async {
                        let resp = self
                            .send_once(
                                Method::POST,
                                path,
                                &[],
                                Some(body.as_bytes()),
                                HeaderMap::new(),
                            )
                            .await?;
                        let token = resp
                            .headers()
                            .get("token")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        let me: Box<RawValue> = self.read_json(&url, resp).await?;
                        Ok((token, me))
                    })
                    .await?;
                let token = token
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| ApiError::NotApi {
                        url: url.clone(),
                        content_type: "a login answer without a Token header".into(),
                    })?;
                self.set_token(Secret::new(token));
                Raw::parse(me).map_err(|e| ApiError::BadJson {
                    url,
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Ends the session opened by [`Client::login`] with a password (sessions would pile up).
    pub async fn logout(&self) -> Result<(), ApiError> {
        self.send_once(
            Method::POST,
            "/users/logout",
            &[],
            Some(b"{}"),
            HeaderMap::new(),
        )
        .await?;
        Ok(())
    }

    pub async fn me(&self) -> Result<Raw<User>, ApiError> {
        let raw: Box<RawValue> = self.get_json("/users/me", &[]).await?;
        Raw::parse(raw).map_err(|e| ApiError::BadJson {
            url: self.url("/users/me"),
            detail: e.to_string(),
        })
    }

    /// Is there a user with this username? (`GET /users/username/{username}`)
    pub async fn user_exists(&self, username: &str) -> Result<bool, ApiError> {
        // Usernames are letters, digits, `.`, `-` and `_`: anything else cannot exist.
        if username.is_empty()
            || !username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Ok(false);
        }
        match self
            .get_json::<serde_json::Value>(&format!("/users/username/{username}"), &[])
            .await
        {
            Ok(_) => Ok(true),
            // 403: the caller has view restrictions (a guest) and may not see such a user, or
            // there is none (`getUserByUsername` does not tell the two apart).
            Err(e) if matches!(e.status(), Some(403 | 404)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET /users/{id}/teams`: every team the user is an active member of.
    pub async fn teams_for_user(&self, user_id: &str) -> Result<Vec<Raw<Team>>, ApiError> {
        let path = format!("/users/{}/teams", check_id(user_id)?);
        let items: Vec<Box<RawValue>> = self.get_json(&path, &[]).await?;
        parse_all(&self.url(&path), items)
    }

    /// `GET /users/{uid}/teams/{tid}/channels?include_deleted=true`: the user's channels of a
    /// team, archived ones included, plus every DM and group channel.
    pub async fn channels_for_team(
        &self,
        user_id: &str,
        team_id: &str,
    ) -> Result<Vec<Raw<Channel>>, ApiError> {
        let path = format!(
            "/users/{}/teams/{}/channels",
            check_id(user_id)?,
            check_id(team_id)?
        );
        match self
            .get_json::<Vec<Box<RawValue>>>(&path, &[("include_deleted", "true")])
            .await
        {
            Ok(items) => parse_all(&self.url(&path), items),
            Err(e) if e.server_id() == Some("app.channel.get_channels.not_found.app_error") => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /users/{uid}/channels?include_deleted=true`: all channels of all teams plus DMs and
    /// groups, in one request.
    pub async fn channels_for_user(&self, user_id: &str) -> Result<Vec<Raw<Channel>>, ApiError> {
        let path = format!("/users/{}/channels", check_id(user_id)?);
        let url = self.url(&path);
        let body = self
            .with_retry(&format!("GET {url}"), || async {
                let resp = self
                    .send_once(
                        Method::GET,
                        &path,
                        &[("include_deleted", "true")],
                        None,
                        HeaderMap::new(),
                    )
                    .await?;
                let ctype = content_type(&resp);
                if ctype.starts_with("text/html") {
                    return Err(ApiError::NotApi {
                        url: url.clone(),
                        content_type: ctype,
                    });
                }
                self.read_limited(&url, resp, super::client::MAX_JSON_BYTES, false)
                    .await
            })
            .await?;
        match serde_json::from_slice::<Vec<Box<RawValue>>>(&body) {
            Ok(items) => parse_all(&url, items),
            // The server writes `[` before it knows that the user has no channel at all, then
            // an error object: that, and only that, means "no channels".
            Err(_) if body.starts_with(b"[") && no_channels_error(&body[1..]) => Ok(Vec::new()),
            Err(e) => Err(ApiError::BadJson {
                url,
                detail: e.to_string(),
            }),
        }
    }

    /// A paged list endpoint, read to its end (`per_page=200`), each item once (by `key`); see
    /// [`Listing`].
    ///
    /// # Errors
    /// [`ApiError::Endless`] for a listing that does not end.
    async fn all_pages<T: for<'de> serde::Deserialize<'de>>(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        key: fn(&T) -> &str,
    ) -> Result<Vec<Raw<T>>, ApiError> {
        let url = self.url(path);
        let mut listing = Listing::new(PER_PAGE);
        let per_page = PER_PAGE.to_string();
        let mut page = 0;
        loop {
            let page_s = page.to_string();
            let mut q: Vec<(&str, &str)> = vec![("page", &page_s), ("per_page", &per_page)];
            q.extend_from_slice(extra);
            let items: Vec<Box<RawValue>> = self.get_json(path, &q).await?;
            let items = parse_all::<T>(&url, items)?;
            match listing.take(items, |r| key(&r.v)) {
                Ok(Next::Page(p)) => page = p,
                Ok(Next::Done) => return Ok(listing.into_items()),
                Err(detail) => return Err(ApiError::Endless { url, detail }),
            }
        }
    }

    /// `GET /channels/{id}/members`, all pages, each member once.
    pub async fn channel_members(&self, channel_id: &str) -> Result<Vec<Raw<Member>>, ApiError> {
        let path = format!("/channels/{}/members", check_id(channel_id)?);
        self.all_pages(&path, &[], |m: &Member| &m.user_id).await
    }

    /// `GET /teams/{id}/members`, all pages, each member once.
    pub async fn team_members(&self, team_id: &str) -> Result<Vec<Raw<Member>>, ApiError> {
        let path = format!("/teams/{}/members", check_id(team_id)?);
        self.all_pages(&path, &[], |m: &Member| &m.user_id).await
    }

    /// `GET /emoji`, all pages, sorted by name; `None` when custom emoji are disabled (501).
    pub async fn emojis(&self) -> Result<Option<Vec<Raw<Emoji>>>, ApiError> {
        match self
            .all_pages("/emoji", &[("sort", "name")], |e: &Emoji| &e.id)
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(501) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of a channel's posts (`per_page=200`, `skipFetchThreads=true`).
    pub async fn posts(&self, channel_id: &str, anchor: &Anchor) -> Result<PostList, ApiError> {
        let path = format!("/channels/{}/posts", check_id(channel_id)?);
        let per_page = PER_PAGE.to_string();
        let page;
        let mut q: Vec<(&str, &str)> = vec![("per_page", &per_page), ("skipFetchThreads", "true")];
        match anchor {
            Anchor::Newest => {}
            Anchor::Before(id) => q.push(("before", check_id(id)?)),
            Anchor::Page(n) => {
                page = n.to_string();
                q.push(("page", &page));
            }
        }
        self.post_list(&path, &q).await
    }

    /// Every post row of a channel with `update_at > since` (edits, reactions, deletions and
    /// edit-history rows included), newest first; the server caps the answer at 1000 rows.
    pub async fn posts_since(&self, channel_id: &str, since: i64) -> Result<PostList, ApiError> {
        let path = format!("/channels/{}/posts", check_id(channel_id)?);
        let since = since.max(1).to_string();
        self.post_list(&path, &[("since", &since), ("skipFetchThreads", "true")])
            .await
    }

    /// A post list, with the server's clock from its `Date` header.
    async fn post_list(&self, path: &str, q: &[(&str, &str)]) -> Result<PostList, ApiError> {
        let url = self.url(path);
        self.with_retry(&format!("GET {url}"), || async {
            let resp = self
                .send_once(Method::GET, path, q, None, HeaderMap::new())
                .await?;
            let date = resp
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(http_date_ms);
            let mut list: PostList = self.read_json(&url, resp).await?;
            list.server_time = date;
            Ok(list)
        })
        .await
    }

    /// `GET /posts/{id}`: the post, or `None` when the server says it does not exist (404:
    /// deleted, or never there).
    pub async fn post(&self, post_id: &str) -> Result<Option<Raw<Post>>, ApiError> {
        let path = format!("/posts/{}", check_id(post_id)?);
        match self.get_json::<Box<RawValue>>(&path, &[]).await {
            Ok(raw) => Raw::parse(raw).map(Some).map_err(|e| ApiError::BadJson {
                url: self.url(&path),
                detail: e.to_string(),
            }),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /users/ids` in batches; a batch the server finds too large (413) is halved.
    /// With `since`, only users whose profile changed after that time are returned.
    pub async fn users_by_ids(
        &self,
        ids: &[String],
        since: Option<i64>,
    ) -> Result<Vec<Raw<User>>, ApiError> {
        let since_s = since.map(|s| s.max(1).to_string());
        let query: Vec<(&str, &str)> = since_s
            .as_deref()
            .map(|s| vec![("since", s)])
            .unwrap_or_default();
        const BATCH: usize = 5000;
        let mut out = Vec::new();
        let mut todo: Vec<&[String]> = ids.chunks(BATCH).rev().collect();
        while let Some(batch) = todo.pop() {
            if batch.is_empty() {
                continue;
            }
            let body = serde_json::to_vec(batch).expect("strings serialise");
            match self
                .fetch_json::<Vec<Box<RawValue>>>(Method::POST, "/users/ids", &query, Some(&body))
                .await
            {
                Ok(items) => out.extend(parse_all(&self.url("/users/ids"), items)?),
                Err(e) if e.status() == Some(413) && batch.len() > 1 => {
                    let (a, b) = batch.split_at(batch.len() / 2);
                    todo.push(b);
                    todo.push(a);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// An image endpoint; `None` when the server has none (404, or 501 without storage).
    async fn image(&self, path: &str) -> Result<Option<Image>, ApiError> {
        let url = self.url(path);
        let got = self
            .with_retry(&format!("GET {url}"), || async {
                let resp = self
                    .send_once(Method::GET, path, &[], None, identity())
                    .await?;
                let content_type = content_type(&resp);
                let bytes = self
                    .read_limited(&url, resp, MAX_IMAGE_BYTES, false)
                    .await?;
                Ok(Image {
                    content_type,
                    bytes,
                })
            })
            .await;
        match got {
            Ok(img) => Ok(Some(img)),
            Err(e) if matches!(e.status(), Some(404 | 501)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn user_image(&self, user_id: &str) -> Result<Option<Image>, ApiError> {
        self.image(&format!("/users/{}/image", check_id(user_id)?))
            .await
    }

    pub async fn team_icon(&self, team_id: &str) -> Result<Option<Image>, ApiError> {
        self.image(&format!("/teams/{}/image", check_id(team_id)?))
            .await
    }

    pub async fn emoji_image(&self, emoji_id: &str) -> Result<Option<Image>, ApiError> {
        self.image(&format!("/emoji/{}/image", check_id(emoji_id)?))
            .await
    }

    /// `GET /files/{id}` as a stream, from byte `offset` on (to resume a broken transfer).
    pub async fn file(&self, file_id: &str, offset: u64) -> Result<super::Download, ApiError> {
        self.get_stream(&format!("/files/{}", check_id(file_id)?), offset)
            .await
    }
}
