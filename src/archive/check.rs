//! Checking zip entries: their data is inflated and its CRC-32 and size compared with what the
//! entry's record claims, or, faster, their checksum as matterbak recorded it compared
//! ([`Sum`]). Before an entry of the previous zip is trusted (copied, or kept), and for
//! `matterbak verify --zip` (which inflates every entry, and compares the zip's names with the
//! data dir).

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::Path;

use flate2::{Decompress, FlushDecompress, Status};

use super::previous::Previous;
use super::walk::Walk;
use super::writer::{Sum, DEFLATED, STORED};

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

/// Reads exactly `comp` bytes from `raw` (an entry's compressed data) and compares their
/// [`Sum`] with `want`, the one recorded for the entry. `buf` is any scratch buffer.
pub fn sum_matches(
    raw: &mut dyn Read,
    (crc, size, comp): (u32, u64, u64),
    want: u32,
    buf: &mut [u8],
) -> io::Result<bool> {
    let mut sum = Sum::default();
    let mut left = comp;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        raw.read_exact(&mut buf[..n])?;
        sum.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(sum.finish(crc, size, comp) == want)
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
