//! Checking zip entries: their data is inflated and its CRC-32 and size compared with what the
//! entry's record claims. Before an entry of the previous zip is trusted (copied, or kept), and
//! for `matterbak verify --zip`, which also compares the zip's names with the data dir.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::Path;

use flate2::{Decompress, FlushDecompress, Status};

use super::previous::Previous;
use super::walk::Walk;
use super::writer::{DEFLATED, STORED};

/// Checks one entry at a time, fed its compressed bytes in pieces.
pub struct EntryCheck {
    inflate: Decompress,
    buf: Vec<u8>,
    inbuf: Vec<u8>,
    method: u16,
    size: u64,
    crc: u32,
    hasher: crc32fast::Hasher,
    out: u64,
    ended: bool,
    error: Option<String>,
}

impl Default for EntryCheck {
    fn default() -> Self {
        EntryCheck {
            inflate: Decompress::new(false),
            buf: vec![0u8; 1 << 16],
            inbuf: vec![0u8; 1 << 16],
            method: STORED,
            size: 0,
            crc: 0,
            hasher: crc32fast::Hasher::new(),
            out: 0,
            ended: false,
            error: None,
        }
    }
}

impl EntryCheck {
    /// Starts checking an entry that claims to hold `size` bytes with CRC-32 `crc`.
    pub fn start(&mut self, method: u16, size: u64, crc: u32) {
        if method == DEFLATED {
            self.inflate.reset(false);
        }
        self.method = method;
        self.size = size;
        self.crc = crc;
        self.hasher = crc32fast::Hasher::new();
        self.out = 0;
        self.ended = false;
        self.error = match method {
            STORED | DEFLATED => None,
            m => Some(format!(
                "compression method {m}, which matterbak does not read"
            )),
        };
    }

    /// The next compressed bytes of the entry.
    pub fn feed(&mut self, mut input: &[u8]) {
        if self.error.is_some() || input.is_empty() {
            return;
        }
        if self.method == STORED {
            self.hasher.update(input);
            self.out += input.len() as u64;
            self.too_long();
            return;
        }
        if self.ended {
            self.error = Some("data after the end of its deflate stream".into());
            return;
        }
        loop {
            let (i0, o0) = (self.inflate.total_in(), self.inflate.total_out());
            let status = match self
                .inflate
                .decompress(input, &mut self.buf, FlushDecompress::None)
            {
                Ok(s) => s,
                Err(e) => {
                    self.error = Some(format!("its deflate stream is broken ({e})"));
                    return;
                }
            };
            let consumed = (self.inflate.total_in() - i0) as usize;
            let produced = (self.inflate.total_out() - o0) as usize;
            self.hasher.update(&self.buf[..produced]);
            self.out += produced as u64;
            if self.too_long() {
                return;
            }
            input = &input[consumed..];
            if status == Status::StreamEnd {
                self.ended = true;
                if !input.is_empty() {
                    self.error = Some("data after the end of its deflate stream".into());
                }
                return;
            }
            if (input.is_empty() && produced < self.buf.len()) || (consumed == 0 && produced == 0) {
                return;
            }
        }
    }

    /// Has the entry failed its check already (the rest of its bytes need not be read)?
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn too_long(&mut self) -> bool {
        if self.out > self.size {
            self.error = Some(format!(
                "it holds more than the {} bytes its record says",
                self.size
            ));
        }
        self.error.is_some()
    }

    /// The verdict: `Err` says what is wrong with the entry.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.method == DEFLATED && !self.ended {
            return Err("its deflate stream ends early".into());
        }
        if self.out != self.size {
            return Err(format!(
                "it holds {} bytes, not the {} its record says",
                self.out, self.size
            ));
        }
        let crc = std::mem::take(&mut self.hasher).finalize();
        if crc != self.crc {
            return Err(format!(
                "its CRC-32 is {crc:08x}, not the {:08x} its record says: the data is damaged",
                self.crc
            ));
        }
        Ok(())
    }

    /// Reads exactly `comp` compressed bytes from `raw` and checks them. The outer `Err` is a
    /// read error.
    pub fn check(
        &mut self,
        raw: &mut dyn Read,
        method: u16,
        comp: u64,
        size: u64,
        crc: u32,
    ) -> io::Result<Result<(), String>> {
        self.start(method, size, crc);
        let mut buf = std::mem::take(&mut self.inbuf);
        let verdict = self.check_from(raw, comp, &mut buf);
        self.inbuf = buf;
        verdict
    }

    fn check_from(
        &mut self,
        raw: &mut dyn Read,
        comp: u64,
        buf: &mut [u8],
    ) -> io::Result<Result<(), String>> {
        let mut left = comp;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = match raw.read(&mut buf[..want]) {
                Ok(0) => return Ok(Err("the zip ends inside it".into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.feed(&buf[..n]);
            left -= n as u64;
            if self.error.is_some() {
                break;
            }
        }
        Ok(self.finish())
    }
}

/// How many bytes of compressed data [`BackgroundCheck`] hands over at once: many small
/// entries together, or one piece of a large one.
const BATCH: usize = 1 << 18;

/// One entry's part of a [`Batch`].
struct Part {
    /// The entry's name, method, size and CRC-32 with its first part.
    start: Option<(String, u16, u64, u32)>,
    len: usize,
    last: bool,
}

/// Compressed data of consecutive entries (or of a piece of one), for the checking thread.
struct Batch {
    data: Vec<u8>,
    parts: Vec<Part>,
}

/// Checks entries on a second thread while the caller reads the next ones (inflating the
/// many small JSON entries of a kept zip costs about as much as everything else together).
/// Holds a few batches in memory, their buffers reused.
pub struct BackgroundCheck {
    tx: Option<std::sync::mpsc::SyncSender<Batch>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    batch: Batch,
    worker: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl BackgroundCheck {
    pub fn start() -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(4);
        let (back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
        let worker = std::thread::Builder::new()
            .name("zip-check".into())
            .spawn(move || {
                let mut check = EntryCheck::default();
                let mut name = String::new();
                for b in rx {
                    let mut at = 0;
                    for p in b.parts {
                        if let Some((n, method, size, crc)) = p.start {
                            name = n;
                            check.start(method, size, crc);
                        }
                        check.feed(&b.data[at..at + p.len]);
                        at += p.len;
                        if p.last || check.failed() {
                            check.finish().map_err(|why| format!("{name}: {why}"))?;
                        }
                    }
                    let _ = back.send(b.data);
                }
                Ok(())
            })?;
        Ok(BackgroundCheck {
            tx: Some(tx),
            spare,
            batch: Batch {
                data: Vec::with_capacity(BATCH),
                parts: Vec::new(),
            },
            worker: Some(worker),
        })
    }

    /// Hands the entry `name` (`comp` bytes from `raw`) over for checking. `Ok(false)`: a
    /// check failed already ([`BackgroundCheck::finish`] says which).
    pub fn entry(
        &mut self,
        name: &str,
        raw: &mut dyn Read,
        (method, comp, size, crc): (u16, u64, u64, u32),
    ) -> io::Result<bool> {
        let mut start = Some((name.to_string(), method, size, crc));
        let mut left = comp;
        loop {
            let room = BATCH.saturating_sub(self.batch.data.len());
            if room == 0 || (left > room as u64 && !self.batch.parts.is_empty()) {
                if !self.send() {
                    return Ok(false);
                }
                continue;
            }
            let n = left.min(room as u64) as usize;
            let at = self.batch.data.len();
            self.batch.data.resize(at + n, 0);
            raw.read_exact(&mut self.batch.data[at..])?;
            left -= n as u64;
            self.batch.parts.push(Part {
                start: start.take(),
                len: n,
                last: left == 0,
            });
            if left == 0 {
                return Ok(true);
            }
        }
    }

    /// Sends the batch being filled; `false` when the checking thread stopped (a failure).
    fn send(&mut self) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        let data = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let full = std::mem::replace(
            &mut self.batch,
            Batch {
                data,
                parts: Vec::with_capacity(256),
            },
        );
        self.batch.data.clear();
        tx.send(full).is_ok()
    }

    /// Waits for the checks of every entry handed over: `Err` names the first damaged one.
    pub fn finish(mut self) -> Result<(), String> {
        if !self.batch.parts.is_empty() {
            self.send();
        }
        drop(self.tx.take());
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err("the checking thread failed".into()),
        }
    }
}

/// What `matterbak verify` found in a zip.
#[derive(Debug, Default)]
pub struct ZipCheck {
    pub entries: u64,
    pub problems: Vec<String>,
}

/// How many names missing from the zip (or extra in it) are listed one by one.
const NAMES_LISTED: usize = 10;

/// Checks every entry of `zip` (its data against its CRC-32 and size) and that it holds the
/// files and folders of `data_dir` by name, no more, no less (links left out, as the zip
/// leaves them out).
pub fn check_zip(zip: &Path, data_dir: &Path) -> ZipCheck {
    let mut r = ZipCheck::default();
    let z = zip.display();
    let mut prev = match Previous::open(zip) {
        Ok(Some(p)) => p,
        Ok(None) => {
            r.problems.push(format!("{z}: no such file"));
            return r;
        }
        Err(e) => {
            r.problems.push(format!(
                "{z}: not a readable zip ({e}); the next backup or `matterbak zip` writes a fresh one"
            ));
            return r;
        }
    };
    let mut names = BTreeSet::new();
    let mut check = EntryCheck::default();
    loop {
        let e = match prev.next_record() {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                r.problems
                    .push(format!("{z}: its central directory is broken ({e})"));
                break;
            }
        };
        r.entries += 1;
        if !names.insert(e.name.clone()) {
            r.problems
                .push(format!("{z}: {} is in the zip twice", e.name));
        }
        if e.name.ends_with('/') && e.size == 0 {
            continue;
        }
        if e.flags & 1 != 0 {
            r.problems.push(format!("{z}: {} is encrypted", e.name));
            continue;
        }
        let verdict = prev
            .raw(&e)
            .and_then(|mut raw| check.check(&mut raw, e.method, e.comp, e.size, e.crc));
        match verdict {
            Ok(Ok(())) => {}
            Ok(Err(why)) => r.problems.push(format!(
                "{z}: {} is damaged: {why} (the next backup or `matterbak zip` compresses it afresh)",
                e.name
            )),
            Err(why) => r.problems.push(format!(
                "{z}: {} cannot be read: {why} (the next backup or `matterbak zip` compresses it afresh)",
                e.name
            )),
        }
    }
    compare_names(&mut r, zip, data_dir, names);
    r
}

/// Adds a problem for each name the data dir has and the zip lacks, and each the other way.
fn compare_names(r: &mut ZipCheck, zip: &Path, data_dir: &Path, mut names: BTreeSet<String>) {
    let z = zip.display();
    let zip_abs = std::path::absolute(zip).ok();
    let mut missing = Vec::new();
    let mut walk = match Walk::new(data_dir) {
        Ok(w) => w,
        Err(e) => {
            r.problems
                .push(format!("{}: cannot read ({e})", data_dir.display()));
            return;
        }
    };
    loop {
        let (name, is_dir) = match walk.next() {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(e) => {
                r.problems
                    .push(format!("{}: cannot read ({e})", data_dir.display()));
                return;
            }
        };
        if zip_abs.is_some() && std::path::absolute(data_dir.join(&name)).ok() == zip_abs {
            continue;
        }
        let entry = if is_dir { format!("{name}/") } else { name };
        if !names.remove(&entry) {
            missing.push(entry);
        }
    }
    let mut list = |one: &str, more: &str, v: Vec<String>| {
        for n in v.iter().take(NAMES_LISTED) {
            r.problems.push(format!("{z}: {n} {one}"));
        }
        if v.len() > NAMES_LISTED {
            let k = v.len() - NAMES_LISTED;
            r.problems.push(format!("{z}: and {k} more {more}"));
        }
    };
    list(
        "is in the data dir but not in the zip (the zip is older than the data dir: `matterbak zip` brings it up to date)",
        "files and folders are in the data dir but not in the zip",
        missing,
    );
    list(
        "is in the zip but not in the data dir",
        "entries are in the zip but not in the data dir",
        names.into_iter().collect(),
    );
}
