//! The summary of a backup run: one line for a person, a log event in JSON mode, and the
//! `--summary-json` file (written atomically whatever the outcome).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use crate::api::Client;
use crate::error::Code;
use crate::fetch::Summary;
use crate::store::atomic;
use crate::units::human_bytes;

/// What a run did, filled in as it goes. Serialized as the `--summary-json` schema
/// (docs/operations.md, "The summary JSON"): change it only by adding fields.
#[derive(Debug, Serialize)]
pub struct Report {
    /// matterbak's version.
    pub version: &'static str,
    /// RFC 3339, UTC, seconds.
    pub started: String,
    pub finished: String,
    pub duration_secs: f64,
    pub exit_code: u8,
    /// `ok`, `partial`, `failed`, `usage`, `auth`, `unreachable`, `locked`, `interrupted`.
    pub outcome: &'static str,
    /// The error that ended the run (`null` for `ok` and `partial`).
    pub error: Option<String>,
    pub data_dir: PathBuf,
    /// The zip written (`null` with --no-zip or when the run ended before it).
    pub zip: Option<ZipReport>,
    /// What the run stored (up to the error, for a run that failed).
    pub counts: Summary,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Wall time some request waited for the rate limit or a Retry-After.
    pub rate_limit_wait_secs: f64,
    /// Answers 429 Too Many Requests (each tried again; counted in `requests`).
    pub rate_limited: u64,
    /// Wall time some HTTP request was in flight.
    pub http_secs: f64,
    /// Items that could not be backed up (a partial run; the next run tries them again).
    pub failures: Vec<String>,
    /// Channels whose posts the server refuses by policy (archived channels when the server
    /// hides them): what the backup has of them is kept; not a failure.
    pub refused_channels: Vec<String>,
    /// Ids of users the server does not show to the caller (guest accounts, restrictive
    /// permissions): their posts are kept; not a failure.
    pub hidden_users: Vec<String>,
    /// Channels of a type this version does not know and of no team: not read.
    pub skipped_channels: Vec<String>,
    #[serde(skip)]
    clock: Instant,
}

#[derive(Debug, Serialize)]
pub struct ZipReport {
    pub path: PathBuf,
    pub entries: u64,
    /// Entries copied unchanged from the previous zip.
    pub reused: u64,
    /// Nothing had changed: the previous zip was kept as it was.
    pub unchanged: bool,
    pub bytes: u64,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Report {
    pub fn start(data_dir: &Path) -> Report {
        Report {
            version: env!("CARGO_PKG_VERSION"),
            started: now(),
            finished: String::new(),
            duration_secs: 0.0,
            exit_code: 0,
            outcome: "",
            error: None,
            data_dir: data_dir.to_path_buf(),
            zip: None,
            counts: Summary::default(),
            requests: 0,
            rate_limit_wait_secs: 0.0,
            rate_limited: 0,
            http_secs: 0.0,
            failures: Vec::new(),
            refused_channels: Vec::new(),
            hidden_users: Vec::new(),
            skipped_channels: Vec::new(),
            clock: Instant::now(),
        }
    }

    pub fn engine(&mut self, s: &Summary) {
        self.counts = s.clone();
        self.failures = s.failures.clone();
        self.refused_channels = s.refused_channels.clone();
        self.hidden_users = s.hidden_users.clone();
        self.skipped_channels = s.skipped_channels.clone();
    }

    pub fn client(&mut self, c: &Client) {
        self.requests = c.request_count();
        self.rate_limit_wait_secs = c.limit_wait().as_secs_f64();
        self.rate_limited = c.rate_limited_count();
        self.http_secs = c.http_time().as_secs_f64();
    }

    /// Sets the outcome; `error` is the error that ended the run, if any.
    pub fn finish(&mut self, code: Code, error: Option<&anyhow::Error>) {
        self.finished = now();
        self.duration_secs = (self.clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        self.exit_code = code as u8;
        self.outcome = code.name();
        self.error = error.map(|e| format!("{e:#}"));
    }

    /// Seconds since the run started.
    pub fn clock_secs(&self) -> f64 {
        self.clock.elapsed().as_secs_f64()
    }

    /// The human summary (one line).
    pub fn line(&self) -> String {
        let c = &self.counts;
        let zipped = match &self.zip {
            Some(z) if z.unchanged => format!(
                "zip {} unchanged ({} entries, {})",
                z.path.display(),
                z.entries,
                human_bytes(z.bytes)
            ),
            Some(z) => format!(
                "zip {} ({} entries, {} reused, {})",
                z.path.display(),
                z.entries,
                z.reused,
                human_bytes(z.bytes)
            ),
            None => "no zip (--no-zip)".to_string(),
        };
        format!(
            "matterbak: {} channels, {} posts ({} new, {} updated, {} edited, {} deleted), {} files ({}), {} users, {} emojis; {}; {} requests{} in {:.1}s (waiting for the rate limit {:.1}s, in HTTP requests {:.1}s){}{}{}",
            c.channels,
            c.posts_seen,
            c.posts_new,
            c.posts_updated,
            c.posts_edited,
            c.posts_deleted,
            c.files,
            human_bytes(c.bytes),
            c.users,
            c.emojis,
            zipped,
            self.requests,
            match self.rate_limited {
                0 => String::new(),
                n => format!(" ({n} refused: 429 Too Many Requests)"),
            },
            self.clock.elapsed().as_secs_f64(),
            self.rate_limit_wait_secs,
            self.http_secs,
            match self.failures.len() {
                0 => String::new(),
                n => format!("; {n} failures"),
            },
            match self.refused_channels.len() {
                0 => String::new(),
                n => format!("; {n} archived channels the server hides"),
            },
            match self.hidden_users.len() {
                0 => String::new(),
                n => format!("; {n} users the server does not show"),
            }
        )
    }

    /// Writes the report as JSON to `path`: a temp file beside it, fsync, rename, fsync of
    /// the folder.
    ///
    /// # Errors
    /// The folder does not exist or cannot be written.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).expect("a report serializes");
        json.push(b'\n');
        let sync = atomic::DirSync::default();
        atomic::write(path, &json, &sync)
            .and_then(|()| sync.sync())
            .with_context(|| format!("writing the summary {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_has_its_documented_fields() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::start(Path::new("data"));
        r.finish(Code::Locked, Some(&anyhow::anyhow!("held")));
        let p = dir.path().join("s.json");
        r.write(&p).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        for k in [
            "version",
            "started",
            "finished",
            "duration_secs",
            "exit_code",
            "outcome",
            "error",
            "data_dir",
            "zip",
            "counts",
            "requests",
            "rate_limit_wait_secs",
            "rate_limited",
            "http_secs",
            "failures",
            "refused_channels",
            "hidden_users",
            "skipped_channels",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
        assert_eq!(v["exit_code"], 6);
        assert_eq!(v["outcome"], "locked");
        assert_eq!(v["error"], "held");
        assert!(v["started"].as_str().unwrap().ends_with('Z'));
        assert_eq!(v["counts"]["posts_new"], 0);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
