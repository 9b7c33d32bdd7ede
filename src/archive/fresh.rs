//! New entries: the method each gets (stored or deflated), and the worker threads that compress
//! them ahead of the writer, each entry whole on one thread, so that the zip's bytes are those
//! the writer would give compressing every entry itself. What is in flight is bounded: the
//! writer plans a limited number of entries (and bytes) ahead, and a worker stops at a few
//! pieces of a large entry until the writer has taken them.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Mutex;

use super::walk::open_regular;
use super::writer::{self, Data, Deflater};

/// Extensions of formats that are compressed already: stored, not deflated again.
const STORED_EXT: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "webp", "avif", "heic", "mp4", "m4v", "mov", "mkv", "webm", "mp3",
    "m4a", "ogg", "opus", "flac", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "docx",
    "xlsx", "pptx", "odt", "ods", "odp", "jar", "apk", "pdf",
];

/// How much of a large file is tried before deflating it.
const SAMPLE: usize = 64 * 1024;

/// A worker hands a large entry's data to the writer in pieces of about this size.
const PIECE: usize = 128 * 1024;

/// Messages a worker may have queued for one entry before it waits for the writer: with
/// [`PIECE`], what one entry holds in memory is at most about [`MAX_HELD`].
const QUEUED: usize = 3;

/// The most memory the data of one entry compressed ahead can hold (its queued pieces, and the
/// one the worker holds): the writer counts `min(file size, MAX_HELD)` per entry against its
/// budget of bytes ahead.
pub const MAX_HELD: u64 = ((QUEUED + 1) * (PIECE + (1 << 16))) as u64;

/// A file opened only when its content is needed (most unchanged files never are).
pub struct LazyFile {
    path: PathBuf,
    meta: Metadata,
    file: Option<File>,
}

impl LazyFile {
    pub fn new(path: PathBuf, meta: Metadata) -> Self {
        LazyFile {
            path,
            meta,
            file: None,
        }
    }

    pub fn get(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            self.file = Some(open_regular(&self.path, &self.meta)?);
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    /// The file, read from its start.
    fn into_file(self) -> io::Result<File> {
        match self.file {
            Some(mut f) => {
                f.seek(io::SeekFrom::Start(0))?;
                Ok(f)
            }
            None => open_regular(&self.path, &self.meta),
        }
    }
}

/// The method of the new entry `name` (its file of `len` bytes is `file`), and a reader of the
/// file's data from its start.
///
/// # Errors
/// When the file cannot be opened or read.
pub fn source(file: LazyFile, name: &str, len: u64, level: u32) -> io::Result<(u16, impl Read)> {
    let mut f = file.into_file()?;
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut method = if level == 0 || STORED_EXT.contains(&ext.as_str()) || len < 64 {
        writer::STORED
    } else {
        writer::DEFLATED
    };
    let mut head = Vec::new();
    if method == writer::DEFLATED && len >= 4 * SAMPLE as u64 {
        (&mut f).take(SAMPLE as u64).read_to_end(&mut head)?;
        if !compressible(&head) {
            method = writer::STORED;
        }
    }
    Ok((method, io::Cursor::new(head).chain(f)))
}

/// Does deflate save at least a tenth of `sample`? (Media and archives under other extensions,
/// random data: stored, instead of spending CPU for nothing.)
fn compressible(sample: &[u8]) -> bool {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(sample.len()),
        flate2::Compression::fast(),
    );
    enc.write_all(sample)
        .and_then(|()| enc.finish())
        .is_ok_and(|out| out.len() * 10 < sample.len() * 9)
}

/// A new entry for a worker.
pub struct Task {
    pub name: String,
    pub file: LazyFile,
    pub len: u64,
}

/// Entries for a worker, compressed in their order, and where their data goes. Small files go
/// in batches (a hand-over between threads per file would cost more than compressing it).
pub struct Job {
    pub tasks: Vec<Task>,
    pub to: SyncSender<io::Result<Piece>>,
}

/// A batch holds at most this many entries...
pub const BATCH: usize = 32;
/// ...and this many bytes of files.
pub const BATCH_BYTES: u64 = 256 << 10;
/// A file larger than this is a job of its own.
pub const ALONE: u64 = PIECE as u64;

/// A piece of an entry's data as it goes into the zip; the last one says what the data came to.
pub struct Piece {
    pub method: u16,
    pub bytes: Vec<u8>,
    pub end: Option<Data>,
}

/// The channel a worker sends the pieces of a job of `entries` entries on.
pub fn channel(entries: usize) -> (SyncSender<io::Result<Piece>>, Receiver<io::Result<Piece>>) {
    std::sync::mpsc::sync_channel(QUEUED + entries)
}

/// A worker thread: compresses the entries of `jobs`, one at a time in the order they come,
/// until the writer hangs up.
pub fn work(jobs: &Mutex<Receiver<Job>>, level: u32) {
    let mut deflater = Deflater::new(level);
    loop {
        // A poisoned lock: another worker panicked; the scope reports it.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        for task in job.tasks {
            if let Err(e) = compress(task, &job.to, level, &mut deflater) {
                // The writer may have gone (it stopped at an error of its own): nobody to tell.
                let _ = job.to.send(Err(e));
                break;
            }
        }
    }
}

/// The writer hung up.
fn gone<T>(_: T) -> io::Error {
    io::Error::other("the zip writer stopped")
}

fn compress(
    task: Task,
    to: &SyncSender<io::Result<Piece>>,
    level: u32,
    deflater: &mut Deflater,
) -> io::Result<()> {
    let Task { name, file, len } = task;
    let (method, mut src) = source(file, &name, len, level)?;
    let mut bytes = Vec::with_capacity(len.min(PIECE as u64) as usize);
    let data = deflater.compress(&name, method, &mut src, &mut |b| {
        bytes.extend_from_slice(b);
        if bytes.len() >= PIECE {
            let piece = Piece {
                method,
                bytes: std::mem::replace(&mut bytes, Vec::with_capacity(PIECE)),
                end: None,
            };
            to.send(Ok(piece)).map_err(gone)?;
        }
        Ok(())
    })?;
    let last = Piece {
        method,
        bytes,
        end: Some(data),
    };
    to.send(Ok(last)).map_err(gone)
}
