//! Progress of a run: counters the engine bumps (cheap atomics), and on a terminal a status line
//! on stderr, redrawn a few times a second and kept below the log lines, cleared at the end.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the engine reports. Shared between the engine, the API client and the status line.
#[derive(Default, Debug)]
pub struct Progress {
    phase: Mutex<String>,
    phase_started: Mutex<Option<Instant>>,
    /// Channels of the current phase: selected, and backed up (or failed) so far.
    total: AtomicU64,
    done: AtomicU64,
    posts: AtomicU64,
    files: AtomicU64,
    bytes: AtomicU64,
    /// A request is waiting for the rate limiter or for a pause the server asked for (set by
    /// the API client).
    pub waiting: Arc<AtomicBool>,
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress::default())
    }

    /// A new phase (`direct`, `groups`, `team acme`, `users`, `emojis`, `zip`).
    pub fn phase(&self, name: &str) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = name.to_string();
        *self.phase_started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        self.total.store(0, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }
    pub fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }
    pub fn channel_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
    pub fn posts(&self, n: u64) {
        self.posts.fetch_add(n, Ordering::Relaxed);
    }
    pub fn file(&self, bytes: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The status line: phase, a bar of the phase's channels, counts, rate and ETA.
    pub fn line(&self, started: Instant) -> String {
        let phase = self.phase.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let (total, done) = (
            self.total.load(Ordering::Relaxed),
            self.done.load(Ordering::Relaxed),
        );
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let mut s = format!("{phase:<12}");
        let width = 20;
        if let Some(filled) = (done.min(total) * width).checked_div(total) {
            let filled = filled as usize;
            s.push_str(&format!(
                " [{}{}] {done}/{total}",
                "#".repeat(filled),
                "-".repeat(width as usize - filled)
            ));
            let since = self
                .phase_started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .map(|t| t.elapsed().as_secs_f64());
            if let Some(p) = since.filter(|_| done > 0 && done < total) {
                let eta = p / done as f64 * (total - done) as f64;
                s.push_str(&format!(" ETA {}", clock(eta)));
            }
        }
        s.push_str(&format!(
            " | {} posts | {} files {} ({}/s) | {}",
            self.posts.load(Ordering::Relaxed),
            self.files.load(Ordering::Relaxed),
            crate::units::human_bytes(bytes),
            crate::units::human_bytes((bytes as f64 / secs) as u64),
            clock(secs)
        ));
        if self.waiting.load(Ordering::Relaxed) {
            s.push_str(" | waiting for the rate limit");
        }
        s
    }
}

fn clock(secs: f64) -> String {
    let s = secs as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The status line currently drawn (if any); log lines are written around it.
static STATUS: Mutex<Option<String>> = Mutex::new(None);

/// Draws `line` as the status line (cut to the terminal's width, about 120 columns).
fn draw(line: Option<String>) {
    let mut cur = STATUS.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = io::stderr().lock();
    let _ = err.write_all(b"\r\x1b[2K");
    if let Some(l) = &line {
        let cut: String = l.chars().take(118).collect();
        let _ = err.write_all(cut.as_bytes());
    }
    let _ = err.flush();
    *cur = line;
}

/// Shows the status line on a terminal until dropped (nothing when stderr is not a terminal
/// or `enabled` is false).
pub struct StatusLine {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StatusLine {
    pub fn start(progress: Arc<Progress>, enabled: bool) -> StatusLine {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled || !io::stderr().is_terminal() {
            return StatusLine { stop, thread: None };
        }
        let started = Instant::now();
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                draw(Some(progress.line(started)));
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        StatusLine {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            draw(None);
        }
    }
}

/// Standard error for log lines: the status line is cleared before a line and drawn again
/// after it, so the two never mix.
#[derive(Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let cur = STATUS.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = io::stderr().lock();
        if cur.is_some() {
            err.write_all(b"\r\x1b[2K")?;
        }
        err.write_all(buf)?;
        if let Some(l) = cur.as_ref().filter(|_| buf.ends_with(b"\n")) {
            let cut: String = l.chars().take(118).collect();
            err.write_all(cut.as_bytes())?;
        }
        err.flush()?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_phase_bar_counts_and_waiting() {
        let p = Progress::new();
        p.phase("team acme");
        p.add_total(4);
        p.channel_done();
        p.posts(120);
        p.file(2048);
        p.waiting.store(true, Ordering::Relaxed);
        let l = p.line(Instant::now());
        assert!(
            l.starts_with("team acme    [#####---------------] 1/4"),
            "{l}"
        );
        assert!(
            l.contains("120 posts") && l.contains("1 files 2.0 KiB"),
            "{l}"
        );
        assert!(l.ends_with("waiting for the rate limit"), "{l}");
    }
}
