//! Where an export writes: a file that appears only when complete (temp file, fsync, rename),
//! or standard output.

use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::store::atomic::{AtomicFile, DirSync};

pub enum Output {
    File(BufWriter<FileSink>),
    Stdout(BufWriter<io::Stdout>),
}

/// [`AtomicFile`] as an [`io::Write`] and [`io::Seek`] (for a zip writer).
pub struct FileSink(AtomicFile, PathBuf, DirSync);

impl FileSink {
    /// A new file at `path`; nothing appears there before [`FileSink::commit`].
    pub fn create(path: &Path) -> Result<FileSink> {
        let sync = DirSync::default();
        let f = AtomicFile::create(path, &sync).with_context(|| {
            format!("cannot create {} (does its folder exist?)", path.display())
        })?;
        Ok(FileSink(f, path.to_path_buf(), sync))
    }

    /// Cuts the file at the write position, fsyncs, renames into place and fsyncs the folder.
    pub fn commit(mut self) -> Result<()> {
        let ctx = || format!("writing {}", self.1.display());
        self.0.cut_at_position().with_context(ctx)?;
        self.0.commit().with_context(ctx)?;
        self.2.sync().with_context(ctx)?;
        Ok(())
    }
}

impl Seek for FileSink {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

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
            Some(p) => Ok(Output::File(BufWriter::with_capacity(
                1 << 16,
                FileSink::create(p)?,
            ))),
        }
    }

    /// Puts the file in place (or flushes standard output).
    pub fn finish(self) -> Result<()> {
        match self {
            Output::Stdout(mut w) => Ok(w.flush()?),
            Output::File(w) => {
                let sink = w.into_inner().map_err(|e| e.into_error())?;
                sink.commit()
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(w) => w.write(buf),
            Output::Stdout(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(w) => w.flush(),
            Output::Stdout(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_ends_where_its_writer_left_it() {
        // A zip writer that drops an entry goes back over it: the bytes beyond the end it writes
        // last must go, or the end-of-directory record is lost among them.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.zip");
        let mut sink = FileSink::create(&path).unwrap();
        sink.write_all(&vec![7u8; 200 << 10]).unwrap();
        sink.seek(io::SeekFrom::Start(10)).unwrap();
        sink.write_all(b"end").unwrap();
        sink.commit().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 13);
    }
}
