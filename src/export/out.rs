//! Where an export writes: a file that appears only when complete (temp file, fsync, rename),
//! or standard output.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::store::atomic::{AtomicFile, DirSync};

pub enum Output {
    File(BufWriter<FileSink>, PathBuf, DirSync),
    Stdout(BufWriter<io::Stdout>),
}

/// [`AtomicFile`] as an [`io::Write`].
pub struct FileSink(AtomicFile);

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Output {
    /// A new file at `path` (its folder must exist), or standard output for `None` or `-`.
    pub fn create(path: Option<&Path>) -> Result<Output> {
        match path {
            None => Ok(Output::Stdout(BufWriter::new(io::stdout()))),
            Some(p) if p.as_os_str() == "-" => Ok(Output::Stdout(BufWriter::new(io::stdout()))),
            Some(p) => {
                let sync = DirSync::default();
                let f = AtomicFile::create(p, &sync).with_context(|| {
                    format!("cannot create {} (does its folder exist?)", p.display())
                })?;
                Ok(Output::File(
                    BufWriter::with_capacity(1 << 16, FileSink(f)),
                    p.to_path_buf(),
                    sync,
                ))
            }
        }
    }

    /// Puts the file in place (or flushes standard output).
    pub fn finish(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => Ok(w.flush()?),
            Output::File(w, path, sync) => {
                let ctx = || format!("writing {}", path.display());
                let sink = w
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(ctx)?;
                sink.0.commit().with_context(ctx)?;
                sync.sync().with_context(ctx)?;
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(w, ..) => w.write(buf),
            Output::Stdout(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(w, ..) => w.flush(),
            Output::Stdout(w) => w.flush(),
        }
    }
}
