//! The one rule for every stamp kept from run to run (a channel's or the users' `since`
//! cursor, a stored `last_picture_update`, `update_at` or `last_team_icon_update`) against the
//! server's clock: a stamp ahead of the clock says nothing.
//!
//! A server clock that ran ahead (NTP trouble, a fast cluster node) stamps changes with future
//! times, and they keep them when it is set right. A cursor there would hide every later
//! change (`since` would be ahead of them), and a stored stamp there would look newer than
//! every later one. So a cursor ahead of the clock means "read everything", no cursor written
//! back is past the clock, and a stored stamp ahead of it counts as changed.

/// `since` for the next listing of changes, unless it is ahead of the server's clock `now`
/// (ms; from an answer's `Date`): then `Err(now)`, and everything must be read.
pub(super) fn since(cursor: i64, overlap_ms: i64, now: Option<i64>) -> Result<i64, i64> {
    let since = cursor - overlap_ms;
    match now {
        Some(now) if since > now => Err(now),
        _ => Ok(since),
    }
}

/// Whether an item changed: the server's stamp `new` is newer than the `stored` one, nothing
/// is stored, or the stored stamp is ahead of the server's clock `now`.
pub(super) fn changed(stored: Option<i64>, new: i64, now: Option<i64>) -> bool {
    stored.is_none_or(|o| o < new || now.is_some_and(|now| o > now))
}

/// The cursor that the next run starts from, as the stamps of a run come in.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    /// The cursor before this run: stamps not newer than it were seen already.
    pub(super) known_until: i64,
    /// The newest stamp seen.
    max: i64,
    /// The newest stamp seen that was not ahead of the server's clock.
    max_sane: i64,
    /// The latest server clock reading (ms).
    now: Option<i64>,
}

impl Cursor {
    pub(super) fn new(known_until: i64) -> Self {
        Cursor {
            known_until,
            max: known_until,
            ..Cursor::default()
        }
    }

    /// The server's clock of an answer (from its `Date`), if it sent one.
    pub(super) fn saw_clock(&mut self, t: Option<i64>) {
        if let Some(t) = t {
            self.now = Some(self.now.map_or(t, |s| s.max(t)));
        }
    }

    pub(super) fn now(&self) -> Option<i64> {
        self.now
    }

    /// A stamp of an item of this run.
    pub(super) fn saw(&mut self, t: i64) {
        self.max = self.max.max(t);
        if self.now.is_none_or(|now| t <= now) {
            self.max_sane = self.max_sane.max(t);
        }
    }

    /// The next run's cursor: the newest stamp seen, but never past the server's clock; then
    /// the newest one seen that was not ahead of it (or the old cursor, if that was not).
    pub(super) fn next(&self) -> i64 {
        match self.now {
            Some(now) if self.max > now => {
                let known = if self.known_until <= now {
                    self.known_until
                } else {
                    0
                };
                self.max_sane.max(known)
            }
            _ => self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_ahead_of_the_clock_reads_everything_and_is_not_written_back() {
        assert_eq!(since(1000, 100, Some(2000)), Ok(900));
        assert_eq!(since(1000, 100, None), Ok(900));
        assert_eq!(since(5000, 100, Some(2000)), Err(2000));

        let mut c = Cursor::new(5000);
        c.saw_clock(Some(2000));
        c.saw(1500);
        c.saw(4000);
        assert_eq!(c.next(), 1500);
        let mut c = Cursor::new(1000);
        c.saw(1500);
        assert_eq!(c.next(), 1500, "without a clock, the newest");
    }

    #[test]
    fn a_stored_stamp_ahead_of_the_clock_counts_as_changed() {
        assert!(changed(None, 5, Some(10)));
        assert!(changed(Some(4), 5, Some(10)));
        assert!(!changed(Some(5), 5, Some(10)));
        assert!(!changed(Some(6), 5, None));
        assert!(changed(Some(11), 5, Some(10)));
    }
}
