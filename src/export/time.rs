//! Times as the exports show them: Mattermost milliseconds in this machine's local time.

use chrono::{Local, TimeZone, Utc};

/// `YYYY-MM-DD HH:MM:SS` in local time, as Python's `str(datetime.fromtimestamp(ms / 1000))`
/// without microseconds (the original matterexport's format).
pub fn local(ms: i64) -> String {
    match Local.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => utc(ms),
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// `YYYY-MM-DD` in local time.
pub fn local_date(ms: i64) -> String {
    local(ms).chars().take(10).collect()
}
