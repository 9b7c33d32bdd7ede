//! Reading a zip by entry name, for the exports, in little memory: the central directory is
//! read one record at a time (as [`super::previous`] reads it) into the caller's own index, and
//! an entry is inflated from its local header, with its size and CRC-32 checked against its
//! record.

use std::io::{self, Read};
use std::path::Path;

use flate2::bufread::DeflateDecoder;

use super::previous::{Previous, Tracked};
use super::writer::{DEFLATED, STORED};

/// Where an entry's data is in the zip, and what its record says of it (ZIP64 sizes and
/// offsets included).
#[derive(Debug, Clone, Copy)]
pub struct EntryLoc {
    /// Where its local header starts.
    pub offset: u64,
    /// Its compressed and uncompressed sizes.
    pub comp: u64,
    pub size: u64,
    pub crc: u32,
    pub method: u16,
    pub flags: u16,
}

/// What to do about a damaged entry, for the errors.
const DAMAGED: &str = "the zip is damaged: export from the data dir, or write the zip again \
                       with `matterbak zip`";

/// A zip opened for reading entries by their location.
pub struct ZipReader {
    zip: Previous,
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what} ({DAMAGED})"))
}

impl ZipReader {
    /// Opens the zip at `path` and finds its central directory.
    ///
    /// # Errors
    /// When the file cannot be read or is not a zip.
    pub fn open(path: &Path) -> io::Result<ZipReader> {
        match Previous::open(path)? {
            Some(zip) => Ok(ZipReader { zip }),
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
        }
    }

    /// The next record of the central directory (in its order): the entry's name and location.
    ///
    /// # Errors
    /// When the directory is cut short or broken.
    pub fn next_entry(&mut self) -> io::Result<Option<(String, EntryLoc)>> {
        Ok(self.zip.next_record()?.map(|e| {
            let loc = EntryLoc {
                offset: e.offset,
                comp: e.comp,
                size: e.size,
                crc: e.crc,
                method: e.method,
                flags: e.flags,
            };
            (e.name, loc)
        }))
    }

    /// A reader of the entry at `loc`, inflated. It fails (`InvalidData`) as soon as the entry
    /// gives more bytes than its record says, and at its end when it gave fewer or their
    /// CRC-32 is not the record's: read it to its end to have it checked.
    ///
    /// # Errors
    /// When the entry is encrypted, compressed by a method other than deflate, or its local
    /// header is not where the directory says.
    pub fn entry(&mut self, loc: &EntryLoc) -> io::Result<EntryReader<'_>> {
        if loc.flags & 1 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "encrypted, which matterbak does not read",
            ));
        }
        if loc.method != STORED && loc.method != DEFLATED {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "compression method {}, which matterbak does not read",
                    loc.method
                ),
            ));
        }
        let raw = self
            .zip
            .data(loc.offset, loc.comp)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    damaged("its local header is past the end of the file")
                }
                io::ErrorKind::InvalidData => damaged(&e.to_string()),
                _ => e,
            })?;
        let inner = if loc.method == DEFLATED {
            Inner::Deflated(DeflateDecoder::new(raw))
        } else {
            Inner::Stored(raw)
        };
        Ok(EntryReader {
            inner,
            hasher: crc32fast::Hasher::new(),
            out: 0,
            size: loc.size,
            crc: loc.crc,
        })
    }
}

enum Inner<'a> {
    Stored(Tracked<'a>),
    Deflated(DeflateDecoder<Tracked<'a>>),
}

/// An entry's data, checked against its record as it is read ([`ZipReader::entry`]).
pub struct EntryReader<'a> {
    inner: Inner<'a>,
    hasher: crc32fast::Hasher,
    out: u64,
    size: u64,
    crc: u32,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.inner {
            Inner::Stored(r) => r.read(buf)?,
            Inner::Deflated(r) => r
                .read(buf)
                .map_err(|e| damaged(&format!("its deflate stream is broken ({e})")))?,
        };
        self.hasher.update(&buf[..n]);
        self.out += n as u64;
        if self.out > self.size {
            return Err(damaged(&format!(
                "it holds more than the {} bytes its record says",
                self.size
            )));
        }
        if n == 0 {
            if self.out < self.size {
                return Err(damaged(&format!(
                    "it holds {} bytes where its record says {}",
                    self.out, self.size
                )));
            }
            if self.hasher.clone().finalize() != self.crc {
                return Err(damaged("its data does not match its CRC-32"));
            }
        }
        Ok(n)
    }
}
