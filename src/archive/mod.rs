//! The zip of the data directory: written to a temp file beside the target, then renamed.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::cancel::Cancel;
use crate::store::atomic::{self, AtomicFile, DirSync};

/// Extensions of formats that are compressed already: stored, not deflated again.
const STORED: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "webp", "avif", "heic", "mp4", "m4v", "mov", "mkv", "webm", "mp3",
    "m4a", "ogg", "opus", "flac", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "docx",
    "xlsx", "pptx", "odt", "ods", "odp", "jar", "apk", "pdf",
];

/// What went into the zip.
#[derive(Debug, Default)]
pub struct ZipStats {
    pub files: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Zips the contents of `data_dir` (paths relative to it, in sorted order) into `output`.
///
/// # Errors
/// I/O errors on the data dir or the output; [`crate::cancel::Cancelled`] when interrupted.
pub fn write_zip(data_dir: &Path, output: &Path, cancel: &Cancel) -> Result<ZipStats> {
    let sync = DirSync::default();
    let out = AtomicFile::create(output, &sync)
        .with_context(|| format!("creating the zip {}", output.display()))?;
    let out_abs = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    let mut entries = Vec::new();
    collect(data_dir, Path::new(""), &mut entries)
        .with_context(|| format!("reading {}", data_dir.display()))?;

    let mut stats = ZipStats::default();
    let mut zip = ZipWriter::new(BufWriter::new(ZipSink(out)));
    for (rel, is_dir) in entries {
        cancel.check()?;
        let path = data_dir.join(&rel);
        if std::path::absolute(&path).is_ok_and(|p| p == out_abs) {
            continue;
        }
        let name = rel.to_string_lossy().replace('\\', "/");
        if is_dir {
            let mut opts = SimpleFileOptions::default();
            if let Some(t) = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(zip_time)
            {
                opts = opts.last_modified_time(t);
            }
            zip.add_directory(format!("{name}/"), opts)?;
            continue;
        }
        let mut f = File::open(&path).with_context(|| format!("reading {}", path.display()))?;
        let meta = f.metadata()?;
        let len = meta.len();
        let ext = rel
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let method = if STORED.contains(&ext.as_str()) {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        };
        let mut opts = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(len >= u32::MAX as u64);
        if let Some(t) = meta.modified().ok().and_then(zip_time) {
            opts = opts.last_modified_time(t);
        }
        zip.start_file(name, opts)?;
        io::copy(&mut f, &mut zip)
            .with_context(|| format!("adding {} to the zip", path.display()))?;
        stats.files += 1;
        stats.bytes_in += len;
    }
    let sink = zip.finish()?.into_inner().map_err(|e| e.into_error())?;
    sink.0
        .commit()
        .with_context(|| format!("writing the zip {}", output.display()))?;
    stats.bytes_out = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    sync.sync()?;
    Ok(stats)
}

/// A file's modification time as a zip timestamp (UTC; zip has no time zone).
fn zip_time(t: std::time::SystemTime) -> Option<zip::DateTime> {
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    let (y, mo, d, h, mi, s) = crate::store::layout::civil(secs);
    zip::DateTime::from_date_and_time(
        u16::try_from(y).ok()?,
        mo as u8,
        d as u8,
        h as u8,
        mi as u8,
        s as u8,
    )
    .ok()
}

/// Every entry below `dir`, sorted, skipping temp files.
fn collect(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, bool)>) -> io::Result<()> {
    let mut items: Vec<_> = std::fs::read_dir(root.join(rel))?.collect::<io::Result<_>>()?;
    items.sort_by_key(|e| e.file_name());
    for e in items {
        let name = e.file_name();
        if name.to_string_lossy().starts_with(atomic::TEMP_PREFIX)
            || name == crate::store::lock::LOCK_FILE
        {
            continue;
        }
        let r = rel.join(&name);
        if e.file_type()?.is_dir() {
            out.push((r.clone(), true));
            collect(root, &r, out)?;
        } else {
            out.push((r, false));
        }
    }
    Ok(())
}

/// `ZipWriter` needs `Write + Seek`; the temp file provides both.
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
