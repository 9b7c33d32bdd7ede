//! The zip of the data directory: written to a temp file beside the target, then renamed.
//! Entries whose file is unchanged since the previous zip are copied from it as they are,
//! compressed bytes and all, instead of being compressed again. Unchanged means: the same size
//! and the modification time the previous zip recorded (then the file is not even read), or the
//! same size and CRC-32 (a zip of the original tool, or a file touched since). A copied entry is
//! checked first: against the checksum of its compressed bytes matterbak records for each entry
//! (`writer::Sum`), or, in a zip without them, by inflating it and comparing its CRC-32. Damage
//! in the previous zip is not carried forward. Links inside the data dir are never followed:
//! they are left out, with a warning.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{mpsc, Mutex};

use anyhow::{Context, Result};

mod check;
mod fresh;
mod previous;
mod reader;
mod walk;
mod writer;

use check::EntryCheck;
pub use check::{check_zip, ZipCheck};
use fresh::{Job, LazyFile};
use previous::{Entry, Previous};
pub use reader::{EntryLoc, EntryReader, ZipReader};
use walk::{open_regular, walk_order, Walk};
use writer::{Stamp, ZipOut};

use crate::cancel::Cancel;
use crate::store::atomic::{self, AtomicFile, DirSync};

/// After this many damaged entries the previous zip is not used any more.
const MAX_DAMAGED: u64 = 3;

/// What went into the zip.
#[derive(Debug, Default)]
pub struct ZipStats {
    pub files: u64,
    /// Nothing changed since the previous zip, which was kept as it is.
    pub kept: bool,
    /// Entries copied from the previous zip without compressing them again.
    pub reused: u64,
    /// Entries of the previous zip found damaged, and compressed afresh from the data dir.
    pub damaged: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The zip a backup writes when no `-o` is given: `matterbak_<user>.zip` in the working
/// directory.
pub fn default_output(user: &str) -> PathBuf {
    PathBuf::from(format!("matterbak_{user}.zip"))
}

/// Zips the contents of `data_dir` (paths relative to it, folders before their contents, names
/// in byte order) into `output`. Entries of a previous zip at `output` whose file has not
/// changed are copied from it without compressing them again. Call it holding the data dir's
/// lock: temp files a killed run left beside `output` are removed.
///
/// # Errors
/// I/O errors on the data dir or the output; [`crate::cancel::Cancelled`] when interrupted.
pub fn write_zip(data_dir: &Path, output: &Path, cancel: &Cancel) -> Result<ZipStats> {
    write_zip_level(data_dir, output, DEFAULT_LEVEL, cancel)
}

/// The deflate level of new entries by default: on a backup's JSON, level 6 costs twice the
/// CPU for about half a percent less zip.
pub const DEFAULT_LEVEL: u32 = 3;

/// [`write_zip`] with a deflate level for new entries (0: every entry stored, as the original
/// tool does; 1 fastest to 9 smallest).
///
/// # Errors
/// As [`write_zip`].
pub fn write_zip_level(
    data_dir: &Path,
    output: &Path,
    level: u32,
    cancel: &Cancel,
) -> Result<ZipStats> {
    write_zip_threads(data_dir, output, level, default_threads(), cancel)
}

/// The threads that compress new entries by default: one per core, up to [`MAX_THREADS`].
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

/// The most threads that compress new entries by default (each holds about a megabyte).
pub const MAX_THREADS: usize = 8;

/// [`write_zip_level`] with `threads` threads compressing new entries (1: the thread that
/// writes the zip compresses them too). The zip is the same, byte for byte, whatever the number.
///
/// # Errors
/// As [`write_zip`].
pub fn write_zip_threads(
    data_dir: &Path,
    output: &Path,
    level: u32,
    threads: usize,
    cancel: &Cancel,
) -> Result<ZipStats> {
    if !data_dir.is_dir() {
        anyhow::bail!("{} is not a directory", data_dir.display());
    }
    // An output that is a link (to another disk, say) is the user's choice: the zip is written
    // where it points, and the link stays.
    let resolved;
    let output = match std::fs::symlink_metadata(output) {
        Ok(m) if m.file_type().is_symlink() => {
            // A link to a zip not written yet points nowhere so far.
            resolved = match std::fs::canonicalize(output) {
                Ok(p) => p,
                Err(_) => atomic::parent(output).join(
                    std::fs::read_link(output)
                        .with_context(|| format!("reading the link {}", output.display()))?,
                ),
            };
            resolved.as_path()
        }
        _ => output,
    };
    match atomic::remove_stale_temps_beside(output) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "removed {n} temp files a killed run left beside {}",
            output.display()
        ),
        Err(e) => tracing::warn!(
            "could not remove the temp files a killed run left beside {}: {e}",
            output.display()
        ),
    }
    let out_abs = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    let out_id = Output::new(data_dir, output, &out_abs);
    // Files modified in this second or later get no trusted time (see `stamp`).
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match unchanged(data_dir, output, &out_id, started, cancel) {
        Ok(Some((stats, walk))) => {
            warn_skipped(data_dir, &walk);
            // Up to date as of now, for whoever watches the zip's time.
            let f = File::options().append(true).open(output);
            if let Err(e) = f.and_then(|f| f.set_modified(std::time::SystemTime::now())) {
                tracing::debug!("could not update the time of {}: {e}", output.display());
            }
            return Ok(stats);
        }
        Ok(None) => {}
        Err(e) if e.downcast_ref::<crate::cancel::Cancelled>().is_some() => return Err(e),
        Err(e) => tracing::debug!("comparing with the previous zip: {e:#}"),
    }
    let sync = DirSync::default();
    let out = AtomicFile::create_beside(output, &sync)
        .with_context(|| format!("creating the zip {}", output.display()))?;
    let spill = tempfile::tempfile_in(atomic::parent(output))
        .with_context(|| format!("creating a temp file beside {}", output.display()))?;
    let previous = match Previous::open(output) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(
                "the previous zip {} is not readable ({e}); zipping everything afresh",
                output.display()
            );
            None
        }
    };
    let level = level.min(9);
    let zip = ZipOut::new(
        BufWriter::with_capacity(1 << 20, ZipSink(out)),
        spill,
        level,
    )?;
    let walk = Walk::new(data_dir)?;
    // One thread compresses on its own; more get workers, and the writer plans ahead for them.
    let workers = if threads > 1 { threads } else { 0 };
    let (tx, rx) = mpsc::channel::<Job>();
    let jobs = Mutex::new(rx);
    let (zip, walk, mut stats) = std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| fresh::work(&jobs, level));
        }
        let mut b = Build {
            data_dir,
            output,
            out_id: &out_id,
            started,
            level,
            cancel,
            walk,
            previous,
            find: true,
            stats: ZipStats::default(),
            zip,
            check: EntryCheck::default(),
            jobs: (workers > 0).then_some(tx),
            ahead: VecDeque::new(),
            ahead_bytes: 0,
            batch: Vec::new(),
            batch_bytes: 0,
            batch_to: None,
        };
        // On an error, `b` drops the job queue and the entries ahead: the workers stop.
        b.run().map(|()| (b.zip, b.walk, b.stats))
    })?;
    warn_skipped(data_dir, &walk);
    let entries = zip.entries();
    let (sink, end) = zip
        .finish()
        .and_then(|(w, end)| Ok((w.into_inner().map_err(|e| e.into_error())?, end)))
        .with_context(|| format!("writing the zip {}", output.display()))?;
    let mut file = sink.0;
    // Past `end` lie only the bytes of an entry dropped at the end (damaged in the previous zip).
    file.set_len(end)
        .and_then(|()| file.commit())
        .with_context(|| format!("writing the zip {}", output.display()))?;
    stats.bytes_out = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    sync.sync()?;
    tracing::debug!(
        "zip: {entries} entries, {} copied from the previous zip",
        stats.reused
    );
    Ok(stats)
}

/// How many entries the writer plans ahead of the one it writes, when workers compress.
const AHEAD: usize = 256;
/// And how many bytes of new entries (each counted up to [`fresh::MAX_HELD`]): what the
/// compressed data waiting for the writer can take at most.
const AHEAD_BYTES: u64 = 8 << 20;

/// The zip's own file, when it is inside the data dir: it is not zipped into itself.
struct Output {
    /// Device and inode of the zip being replaced, when there is one.
    #[cfg(unix)]
    id: Option<(u64, u64)>,
    /// The data dir made absolute once, and the output's path made absolute.
    #[cfg(not(unix))]
    paths: (PathBuf, PathBuf),
}

impl Output {
    fn new(data_dir: &Path, output: &Path, out_abs: &Path) -> Output {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let _ = (data_dir, out_abs);
            // The file the zip replaces (a link to it is followed, as when writing); one not
            // written yet cannot be in the walk (its temp file is left out by its name).
            let id = std::fs::metadata(output).ok().map(|m| (m.dev(), m.ino()));
            Output { id }
        }
        #[cfg(not(unix))]
        {
            let _ = output;
            let data = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
            Output {
                paths: (data, out_abs.to_path_buf()),
            }
        }
    }

    /// Is the data dir's file `name`, found to be `meta`, the zip? Compared by identity, not
    /// by path: a path with `..` or a link names the same file, and making each path absolute
    /// cost a system call per file.
    fn is(&self, name: &str, meta: &std::fs::Metadata) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let _ = name;
            meta.is_file() && self.id == Some((meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            self.paths.0.join(name) == self.paths.1
        }
    }
}

/// The zip being written: the walk of the data dir, what is planned ahead, the writer.
struct Build<'a> {
    data_dir: &'a Path,
    output: &'a Path,
    out_id: &'a Output,
    started: u64,
    level: u32,
    cancel: &'a Cancel,
    walk: Walk,
    previous: Option<Previous>,
    /// Entries are still looked up in the previous zip (false once its directory broke).
    find: bool,
    stats: ZipStats,
    zip: ZipOut<BufWriter<ZipSink>>,
    check: EntryCheck,
    /// Where new entries go to be compressed, when workers do it.
    jobs: Option<mpsc::Sender<Job>>,
    /// Entries planned, in the order they are written.
    ahead: VecDeque<Ahead>,
    /// The bytes of new entries in `ahead`, each counted up to [`fresh::MAX_HELD`].
    ahead_bytes: u64,
    /// Small files planned but not yet handed to the workers, their bytes, and the channel
    /// their data will come on.
    batch: Vec<fresh::Task>,
    batch_bytes: u64,
    batch_to: Option<(mpsc::SyncSender<io::Result<fresh::Piece>>, Rc<Receiver>)>,
}

type Receiver = mpsc::Receiver<io::Result<fresh::Piece>>;

/// Hands `tasks` to the workers, their data to come on `to`.
fn send(
    jobs: &mpsc::Sender<Job>,
    tasks: Vec<fresh::Task>,
    to: mpsc::SyncSender<io::Result<fresh::Piece>>,
) -> Result<()> {
    jobs.send(Job { tasks, to })
        .map_err(|_| anyhow::anyhow!("the threads that compress the zip's entries stopped"))
}

/// An entry planned ahead of the writer.
enum Ahead {
    Dir {
        name: String,
        stamp: Stamp,
    },
    /// Copied from the previous zip if it is still in use when the writer comes to it and the
    /// copy checks out; else compressed from `file`.
    Copy {
        name: String,
        stamp: Stamp,
        entry: Entry,
        file: LazyFile,
    },
    /// Compressed by the writer.
    Here {
        name: String,
        stamp: Stamp,
        file: LazyFile,
        len: u64,
        /// The previous zip's directory broke where this entry was looked up: why.
        broke: Option<String>,
    },
    /// Compressed by a worker, which sends the data on `from`.
    Sent {
        name: String,
        stamp: Stamp,
        len: u64,
        from: Rc<mpsc::Receiver<io::Result<fresh::Piece>>>,
        broke: Option<String>,
    },
}

impl Build<'_> {
    fn run(&mut self) -> Result<()> {
        let (most, most_bytes) = match self.jobs {
            Some(_) => (AHEAD, AHEAD_BYTES),
            None => (1, 0),
        };
        let mut walked = false;
        loop {
            // Planned in rounds, from half full: small files go to the workers in batches.
            if !walked && self.ahead.len() <= most / 2 {
                while !walked
                    && (self.ahead.is_empty()
                        || (self.ahead.len() < most && self.ahead_bytes < most_bytes))
                {
                    match self.plan()? {
                        Some(a) => self.ahead.push_back(a),
                        None => walked = true,
                    }
                }
                self.flush()?;
            }
            let Some(a) = self.ahead.pop_front() else {
                return Ok(());
            };
            self.write(a)?;
        }
    }

    /// Hands the batch of small files planned so far to the workers.
    fn flush(&mut self) -> Result<()> {
        if let (Some((to, _)), Some(jobs)) = (self.batch_to.take(), &self.jobs) {
            self.batch_bytes = 0;
            send(jobs, std::mem::take(&mut self.batch), to)?;
        }
        Ok(())
    }

    /// Plans the next entry of the walk: `None` at its end.
    fn plan(&mut self) -> Result<Option<Ahead>> {
        let data_dir = self.data_dir;
        loop {
            let Some((name, is_dir)) = self
                .walk
                .next()
                .with_context(|| format!("reading {}", data_dir.display()))?
            else {
                return Ok(None);
            };
            self.cancel.check()?;
            let path = data_dir.join(&name);
            let ctx = || format!("adding {} to the zip", path.display());
            let meta = std::fs::symlink_metadata(&path).with_context(ctx)?;
            if self.out_id.is(&name, &meta) {
                continue;
            }
            if meta.is_dir() != is_dir || !(is_dir || meta.is_file()) {
                tracing::warn!(
                    "{}: not zipped: it became a link or another kind of file while being zipped",
                    path.display()
                );
                continue;
            }
            let stamp = stamp(&meta, is_dir, self.started);
            if is_dir {
                return Ok(Some(Ahead::Dir {
                    name: format!("{name}/"),
                    stamp,
                }));
            }
            let len = meta.len();
            let mut file = LazyFile::new(path.clone(), meta);
            self.stats.files += 1;
            self.stats.bytes_in += len;
            let mut broke = None;
            if let Some(prev) = self.previous.as_mut().filter(|_| self.find) {
                match prev.find(&name, walk_order) {
                    Ok(Some(e))
                        if reusable(&e, len)
                            && ((e.mtime.is_some() && e.mtime == stamp.mtime)
                                || crc_of(file.get().with_context(ctx)?).with_context(ctx)?
                                    == e.crc) =>
                    {
                        return Ok(Some(Ahead::Copy {
                            name,
                            stamp,
                            entry: e,
                            file,
                        }));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.find = false;
                        broke = Some(e.to_string());
                    }
                }
            }
            let Some(jobs) = self.jobs.clone() else {
                return Ok(Some(Ahead::Here {
                    name,
                    stamp,
                    file,
                    len,
                    broke,
                }));
            };
            let task = fresh::Task {
                name: name.clone(),
                file,
                len,
            };
            let from = if len > fresh::ALONE {
                self.flush()?;
                let (to, from) = fresh::channel(1);
                send(&jobs, vec![task], to)?;
                Rc::new(from)
            } else {
                let from = match &self.batch_to {
                    Some((_, from)) => from.clone(),
                    None => {
                        let (to, from) = fresh::channel(fresh::BATCH);
                        let from = Rc::new(from);
                        self.batch_to = Some((to, from.clone()));
                        from
                    }
                };
                self.batch_bytes += len;
                self.batch.push(task);
                if self.batch.len() >= fresh::BATCH || self.batch_bytes >= fresh::BATCH_BYTES {
                    self.flush()?;
                }
                from
            };
            self.ahead_bytes += len.min(fresh::MAX_HELD);
            return Ok(Some(Ahead::Sent {
                name,
                stamp,
                len,
                from,
                broke,
            }));
        }
    }

    /// Writes the next entry.
    fn write(&mut self, a: Ahead) -> Result<()> {
        let output = self.output;
        let data_dir = self.data_dir;
        let ctx = |name: &str| format!("adding {} to the zip", data_dir.join(name).display());
        let (name, stamp, file, len) = match a {
            Ahead::Dir { name, stamp } => {
                return self
                    .zip
                    .add_dir(&name, stamp)
                    .with_context(|| ctx(name.trim_end_matches('/')));
            }
            Ahead::Copy {
                name,
                stamp,
                entry: e,
                file,
            } => {
                if let Some(prev) = self.previous.as_mut() {
                    let copied = match prev.raw(&e) {
                        Ok(mut raw) => {
                            let what = (e.method, e.crc, e.comp, e.size, e.sum);
                            Some(
                                self.zip
                                    .add_checked(&name, stamp, what, &mut raw, &mut self.check)
                                    .with_context(|| ctx(&name))?,
                            )
                        }
                        Err(err) => {
                            tracing::warn!(
                                "the previous zip {} is broken at {name} ({err}); compressing the rest afresh",
                                output.display()
                            );
                            None
                        }
                    };
                    match copied {
                        Some(Ok(())) => {
                            self.stats.reused += 1;
                            return Ok(());
                        }
                        None => self.previous = None,
                        Some(Err(why)) => {
                            self.stats.damaged += 1;
                            tracing::warn!(
                                "{name} in the previous zip {} is damaged ({why}); compressing it afresh from the data dir",
                                output.display()
                            );
                            if self.stats.damaged >= MAX_DAMAGED {
                                tracing::warn!(
                                    "the previous zip {} has {} damaged entries; compressing the rest afresh",
                                    output.display(),
                                    self.stats.damaged
                                );
                                self.previous = None;
                            }
                        }
                    }
                }
                (name, stamp, file, e.size)
            }
            Ahead::Here {
                name,
                stamp,
                file,
                len,
                broke,
            } => {
                self.broken(broke);
                (name, stamp, file, len)
            }
            Ahead::Sent {
                name,
                stamp,
                len,
                from,
                broke,
            } => {
                self.broken(broke);
                self.ahead_bytes -= len.min(fresh::MAX_HELD);
                return self
                    .receive(&name, stamp, len, &from)
                    .with_context(|| ctx(&name));
            }
        };
        let (method, mut src) =
            fresh::source(file, &name, len, self.level).with_context(|| ctx(&name))?;
        self.zip
            .add_file(&name, stamp, method, &mut src, len)
            .with_context(|| ctx(&name))?;
        Ok(())
    }

    /// The previous zip's directory broke where an entry was looked up (`Some`): the writer has
    /// come to that entry, and stops using the previous zip.
    fn broken(&mut self, broke: Option<String>) {
        if let Some(why) = broke {
            tracing::warn!("the previous zip is broken ({why}); compressing the rest afresh");
            self.previous = None;
        }
    }

    /// Writes the entry `name` as a worker compressed it.
    fn receive(
        &mut self,
        name: &str,
        stamp: Stamp,
        len: u64,
        from: &mpsc::Receiver<io::Result<fresh::Piece>>,
    ) -> io::Result<()> {
        let stopped = || io::Error::other("the thread compressing it stopped");
        let mut begun = None;
        loop {
            let piece = from.recv().map_err(|_| stopped())??;
            let b = match &mut begun {
                Some(b) => b,
                None => begun.insert(self.zip.begin_file(name, stamp, piece.method, len)?),
            };
            self.zip.write_data(b, &piece.bytes)?;
            if let Some(data) = piece.end {
                let b = begun.take().ok_or_else(stopped)?;
                self.zip.end_file(name, stamp, b, data)?;
                return Ok(());
            }
        }
    }
}

/// Says which links (and other entries that are neither file nor folder) were left out.
fn warn_skipped(data_dir: &Path, walk: &Walk) {
    for rel in walk.skipped() {
        tracing::warn!(
            "{}: a link (or not a regular file or folder): left out of the zip, not followed",
            data_dir.join(rel).display()
        );
    }
}

/// Is the previous zip at `output` exactly the zip of `data_dir` as it is now (the same
/// entries in the same order, each unchanged by size and recorded modification time, at the
/// same offsets), and sound: each entry's data inflates to its CRC-32, and every byte of the
/// file is what writing it again would write? Then it is kept. Reads the directory and the
/// previous zip, not the files. Returns what the zip holds, and the walk that checked it.
fn unchanged(
    data_dir: &Path,
    output: &Path,
    out_id: &Output,
    started: u64,
    cancel: &Cancel,
) -> Result<Option<(ZipStats, Walk)>> {
    let Some(mut prev) = Previous::open(output)? else {
        return Ok(None);
    };
    let mut stats = ZipStats {
        kept: true,
        ..ZipStats::default()
    };
    let mut offset = 0u64;
    let mut cd_len = 0u64;
    let mut entries = 0u64;
    let mut check_crc = None;
    let mut buf = vec![0u8; 1 << 16];
    let mut walk = Walk::new(data_dir)?;
    while let Some((name, is_dir)) = walk.next()? {
        cancel.check()?;
        let path = data_dir.join(&name);
        let meta = std::fs::symlink_metadata(&path)?;
        if out_id.is(&name, &meta) {
            continue;
        }
        if meta.is_dir() != is_dir || !(is_dir || meta.is_file()) {
            return Ok(None);
        }
        let stamp = stamp(&meta, is_dir, started);
        let Some(e) = prev.next_record()? else {
            return Ok(None);
        };
        let entry_name = if is_dir { format!("{name}/") } else { name };
        let rec = if is_dir {
            writer::Record::dir(&entry_name, stamp, offset)
        } else {
            // An entry without a recorded time (its file was written in the second the
            // previous zip started) is compared by CRC below.
            let trusted = e.mtime.is_some();
            if (trusted && e.mtime != stamp.mtime) || !reusable(&e, meta.len()) {
                return Ok(None);
            }
            if !trusted {
                check_crc = Some(e.crc);
            }
            stats.files += 1;
            stats.reused += 1;
            stats.bytes_in += e.size;
            writer::Record {
                name: &entry_name,
                stamp: Stamp {
                    mtime: stamp.mtime.filter(|_| trusted),
                    ..stamp
                },
                method: e.method,
                crc: e.crc,
                comp: e.comp,
                size: e.size,
                offset,
                zip64: writer::raw_zip64(e.size, e.comp),
                dir: false,
                sum: e.sum,
            }
        };
        if writer::central_record(&rec)? != e.record {
            return Ok(None);
        }
        if let Some(crc) = check_crc.take() {
            if crc_of(&mut open_regular(&path, &meta)?)? != crc {
                return Ok(None);
            }
        }
        // The entry in the file: its local header as it would be written, its data sound.
        let header = writer::local_header_bytes(
            rec.name, rec.method, rec.crc, rec.comp, rec.size, rec.zip64, rec.stamp,
        );
        let (h, mut data) = prev.header_and_data(offset, header.len() as u64, rec.comp)?;
        if h != header {
            tracing::debug!("the previous zip's local header of {entry_name} differs");
            return Ok(None);
        }
        if !rec.dir {
            // A zip without checksums (of an older version) is written again, once.
            let Some(want) = e.sum else {
                return Ok(None);
            };
            if !check::sum_matches(&mut data, (rec.crc, rec.size, rec.comp), want, &mut buf)? {
                tracing::debug!("{entry_name} in the previous zip is damaged");
                return Ok(None);
            }
        }
        offset += header.len() as u64 + rec.comp;
        cd_len += e.record.len() as u64;
        entries += 1;
    }
    if prev.next_record()?.is_some() || (prev.cd_start, prev.cd_size) != (offset, cd_len) {
        return Ok(None);
    }
    // Nothing after the central directory but its end records, as they would be written.
    let end = writer::end_records(entries, offset, cd_len);
    if prev.len != offset + cd_len + end.len() as u64 {
        return Ok(None);
    }
    let mut tail = vec![0u8; end.len()];
    prev.read_at(offset + cd_len, &mut tail)?;
    if tail != end {
        return Ok(None);
    }
    stats.bytes_out = prev.len;
    Ok(Some((stats, walk)))
}

/// An entry of the previous zip that can stand for a file of `len` bytes if its time or CRC
/// agrees.
fn reusable(e: &Entry, len: u64) -> bool {
    e.size == len && e.flags & 1 == 0 && matches!(e.method, writer::STORED | writer::DEFLATED)
}

fn crc_of(f: &mut File) -> io::Result<u32> {
    let mut h = crc32fast::Hasher::new();
    let mut buf = [0u8; 1 << 14];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finalize());
        }
        h.update(&buf[..n]);
    }
}

/// The entry's times and mode. A file's modification time is recorded for the next zip only
/// when it lies before the second this zip started: a file changed later in that same second
/// would otherwise keep an equal time with different content.
fn stamp(meta: &std::fs::Metadata, is_dir: bool, started: u64) -> Stamp {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .filter(|&t| !is_dir && t < started)
        .and_then(|t| u32::try_from(t).ok());
    let (time, date) = meta
        .modified()
        .ok()
        .and_then(dos_time)
        .unwrap_or((0, (1 << 5) | 1));
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode()
    };
    #[cfg(not(unix))]
    let mode = if is_dir { 0o040755 } else { 0o100644 };
    let _ = is_dir;
    Stamp {
        time,
        date,
        mode,
        mtime,
    }
}

/// A time as MS-DOS time and date (UTC; zip has no time zone), from 1980 on.
fn dos_time(t: std::time::SystemTime) -> Option<(u16, u16)> {
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    let (y, mo, d, h, mi, s) = crate::store::layout::civil(secs);
    if !(1980..=2107).contains(&y) {
        return None;
    }
    let time = ((h as u16) << 11) | ((mi as u16) << 5) | (s as u16 / 2);
    let date = (((y - 1980) as u16) << 9) | ((mo as u16) << 5) | d as u16;
    Some((time, date))
}

/// The zip writer needs `Write + Seek`; the temp file provides both.
struct ZipSink(AtomicFile);

impl io::Write for ZipSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for ZipSink {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

#[cfg(test)]
mod tests;
