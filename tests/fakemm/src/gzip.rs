//! `ServiceSettings.WebserverMode`, and the gzip handler its default `"gzip"` wraps around
//! every API handler.
//!
//! The real server (`api4/handlers.go`: `APIHandler`, `APISessionRequired`,
//! `APISessionRequiredTrustRequester`, ...) returns `gziphandler.GzipHandler(handler)` when
//! `WebserverMode == "gzip"`, for every `/api/v4` route, `GET /files/{id}` included.
//! mattermost/gziphandler (a fork of nytimes/gziphandler, default options) then:
//! - adds `Vary: Accept-Encoding` to every answer;
//! - compresses only when the request's `Accept-Encoding` gives `gzip` a q-value above 0
//!   (`identity`, or no header at all, gives a plain answer);
//! - leaves alone an answer that already has a `Content-Encoding`, or whose `Content-Length`
//!   is set and below `DefaultMinSize` (1400 bytes);
//! - otherwise compresses once `Content-Length` is at least 1400, or, without one, once 1400
//!   bytes of the body have been written (a shorter body is sent plain); any content type,
//!   any status (a `206` range is compressed after the range is cut);
//! - sets `Content-Encoding: gzip`, removes `Content-Length` (the answer is chunked), level
//!   `DefaultCompression`.
//!
//! The rate limiter and the 404 of unknown routes sit outside the handlers; their bodies are
//! small anyway. `WriteFileResponse` sends `X-Uncompressed-Content-Length` (the file's size) in
//! gzip mode (`routes/media.rs`).

use crate::server::AppState;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use flate2::write::GzEncoder;
use flate2::Compression;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::Ordering;

/// gziphandler's `DefaultMinSize`: bodies shorter than this are sent plain.
pub const MIN_SIZE: usize = 1400;

/// `ServiceSettings.WebserverMode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebserverMode {
    /// The default: API answers are gzipped for clients that accept it.
    #[default]
    Gzip,
    /// No compression (the real server still serves its web app).
    Uncompressed,
    /// No compression.
    Disabled,
}

impl std::str::FromStr for WebserverMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gzip" => Ok(WebserverMode::Gzip),
            "uncompressed" => Ok(WebserverMode::Uncompressed),
            "disabled" => Ok(WebserverMode::Disabled),
            _ => Err(format!(
                "unknown webserver mode {s:?} (gzip, uncompressed, disabled)"
            )),
        }
    }
}

/// Whether `Accept-Encoding` gives `gzip` a q-value above 0 (gziphandler's `acceptsGzip`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut q_gzip = 0.0;
    for coding in v.split(',') {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim();
        let mut q = 1.0;
        for p in parts {
            if let Some(x) = p.trim().strip_prefix("q=") {
                q = x.trim().parse().unwrap_or(0.0);
            }
        }
        if name == "gzip" {
            q_gzip = q;
        }
    }
    q_gzip > 0.0
}

type DataStream = Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>;

/// The answer as gziphandler sends it to a client that accepts gzip; `true` when compressed.
/// Bytes of a compressed stream (no exact length) are added to the server's body-byte count as
/// they are sent.
pub async fn compress(resp: Response, s: &AppState) -> (Response, bool) {
    if resp.headers().contains_key(header::CONTENT_ENCODING) {
        return (resp, false);
    }
    // Go's strconv.Atoi: a missing or unparsable Content-Length counts as 0 ("unknown").
    let cl = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if cl > 0 && cl < MIN_SIZE as u64 {
        return (resp, false);
    }
    let (mut parts, body) = resp.into_parts();
    let gzip_head = |h: &mut HeaderMap| {
        h.remove(header::CONTENT_LENGTH);
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    };
    if cl >= MIN_SIZE as u64 {
        gzip_head(&mut parts.headers);
        let body = gzip_stream(Vec::new(), Box::pin(body.into_data_stream()), s.clone());
        return (Response::from_parts(parts, body), true);
    }
    // No length: wait for 1400 bytes or the end.
    let exact = body.size_hint().exact().is_some();
    let mut stream: DataStream = Box::pin(body.into_data_stream());
    let mut buf = Vec::new();
    let mut ended = false;
    while buf.len() < MIN_SIZE || exact {
        match stream.next().await {
            Some(Ok(b)) => buf.extend_from_slice(&b),
            Some(Err(e)) => {
                // The body broke before a decision: pass on what came and the error, plain.
                let head = futures_util::stream::iter([Ok(Bytes::from(buf)), Err(e)]);
                return (Response::from_parts(parts, Body::from_stream(head)), false);
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    if buf.len() < MIN_SIZE {
        return (Response::from_parts(parts, Body::from(buf)), false);
    }
    gzip_head(&mut parts.headers);
    if ended {
        // The whole body was in memory: compress it at once (the length stays known).
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&buf).expect("writing to a Vec");
        let out = enc.finish().expect("writing to a Vec");
        return (Response::from_parts(parts, Body::from(out)), true);
    }
    (
        Response::from_parts(parts, gzip_stream(buf, stream, s.clone())),
        true,
    )
}

/// `prefix` and then `rest`, gzipped as they come (one gzip member).
fn gzip_stream(prefix: Vec<u8>, rest: DataStream, s: AppState) -> Body {
    struct St {
        enc: Option<GzEncoder<Vec<u8>>>,
        prefix: Option<Vec<u8>>,
        rest: DataStream,
    }
    let st = St {
        enc: Some(GzEncoder::new(Vec::new(), Compression::default())),
        prefix: Some(prefix).filter(|p| !p.is_empty()),
        rest,
    };
    let out = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            let enc = st.enc.as_mut()?;
            let input = match st.prefix.take() {
                Some(p) => Some(Ok(Bytes::from(p))),
                None => st.rest.next().await,
            };
            match input {
                Some(Ok(b)) => {
                    enc.write_all(&b).expect("writing to a Vec");
                    let out = std::mem::take(enc.get_mut());
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), st));
                    }
                }
                Some(Err(e)) => {
                    st.enc = None;
                    return Some((Err(std::io::Error::other(e)), st));
                }
                None => {
                    let out = st.enc.take()?.finish().expect("writing to a Vec");
                    return Some((Ok(Bytes::from(out)), st));
                }
            }
        }
    })
    .inspect(move |c| {
        if let Ok(b) = c {
            s.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
    });
    Body::from_stream(out)
}

/// Decompressed size of the `gzip_bomb` answer (more than any client should hold).
pub const BOMB_BYTES: usize = 96 << 20;

/// `[` + spaces + `]` ([`BOMB_BYTES`] long), gzipped once per process (about 100 KB).
pub fn bomb() -> Bytes {
    static BOMB: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        let spaces = vec![b' '; 1 << 20];
        enc.write_all(b"[").expect("writing to a Vec");
        let mut left = BOMB_BYTES - 2;
        while left > 0 {
            let n = left.min(spaces.len());
            enc.write_all(&spaces[..n]).expect("writing to a Vec");
            left -= n;
        }
        enc.write_all(b"]").expect("writing to a Vec");
        Bytes::from(enc.finish().expect("writing to a Vec"))
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_q_values() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip"));
        assert!(h("deflate, gzip;q=0.5"));
        assert!(h(" gzip , br"));
        assert!(!h("identity"));
        assert!(!h("gzip;q=0"));
        assert!(!h("br, deflate"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn modes_parse() {
        assert_eq!("gzip".parse(), Ok(WebserverMode::Gzip));
        assert_eq!("disabled".parse(), Ok(WebserverMode::Disabled));
        assert!("zstd".parse::<WebserverMode>().is_err());
        assert_eq!(WebserverMode::default(), WebserverMode::Gzip);
    }
}
