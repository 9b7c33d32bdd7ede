//! The previous zip, read one central-directory record at a time in its own order, so that the
//! compressed bytes of unchanged entries can be copied without holding the directory in memory.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// One entry of the previous zip.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub comp: u64,
    pub size: u64,
    pub offset: u64,
    /// Modification time (Unix seconds) from an extended timestamp field, when there is one.
    pub mtime: Option<u32>,
    /// The entry's checksum as matterbak records it ([`super::writer::Sum`]), when there is one.
    pub sum: Option<u32>,
    /// The central directory record as it is in the file.
    pub record: Vec<u8>,
}

pub struct Previous {
    cd: BufReader<File>,
    left: u64,
    /// Read in the order of the entries, which is mostly the order of the file.
    data: BufReader<File>,
    /// Where `data` reads next (`u64::MAX`: not known), kept here to spare a system call
    /// per entry.
    pos: u64,
    pending: Option<Entry>,
    /// Where the central directory starts, and its length.
    pub cd_start: u64,
    pub cd_size: u64,
    /// The length of the file.
    pub len: u64,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

impl Previous {
    /// Opens the zip at `path`: `Ok(None)` when there is none.
    pub fn open(path: &Path) -> io::Result<Option<Previous>> {
        // Not a FIFO or a device: opened without blocking, a regular file only.
        let mut f = match crate::store::links::open_regular(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < 22 {
            return Err(bad("too short to be a zip"));
        }
        // The end of central directory record is in the last 22 + 65535 bytes.
        let tail_len = len.min(22 + 0xFFFF);
        let mut tail = vec![0u8; tail_len as usize];
        f.seek(SeekFrom::Start(len - tail_len))?;
        f.read_exact(&mut tail)?;
        let at = (0..=tail.len() - 22)
            .rev()
            .find(|&i| u32_at(&tail, i) == 0x0605_4b50)
            .ok_or_else(|| bad("no end of central directory record"))?;
        let eocd = &tail[at..];
        let mut entries = u16_at(eocd, 10) as u64;
        let mut cd_size = u32_at(eocd, 12) as u64;
        let mut cd_start = u32_at(eocd, 16) as u64;
        let eocd_pos = len - tail_len + at as u64;
        if (entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_start == 0xFFFF_FFFF)
            && eocd_pos >= 20
        {
            let mut loc = [0u8; 20];
            f.seek(SeekFrom::Start(eocd_pos - 20))?;
            f.read_exact(&mut loc)?;
            if u32_at(&loc, 0) == 0x0706_4b50 {
                let mut z = [0u8; 56];
                f.seek(SeekFrom::Start(u64_at(&loc, 8)))?;
                f.read_exact(&mut z)?;
                if u32_at(&z, 0) != 0x0606_4b50 {
                    return Err(bad("broken ZIP64 end record"));
                }
                entries = u64_at(&z, 32);
                cd_size = u64_at(&z, 40);
                cd_start = u64_at(&z, 48);
            }
        }
        if cd_start.checked_add(cd_size).is_none_or(|e| e > len) {
            return Err(bad("central directory outside the file"));
        }
        // A second descriptor: a clone would share the file offset with `data`.
        let mut cd = BufReader::with_capacity(1 << 16, crate::store::links::open_regular(path)?);
        cd.seek(SeekFrom::Start(cd_start))?;
        Ok(Some(Previous {
            cd,
            left: entries,
            data: BufReader::with_capacity(1 << 16, f),
            pos: u64::MAX,
            pending: None,
            cd_start,
            cd_size,
            len,
        }))
    }

    /// The entry called `name`, if the directory has it at the place where `name` belongs in
    /// the order `order`; records before it are passed over. Call with names in that order.
    pub fn find(
        &mut self,
        name: &str,
        order: fn(&str, &str) -> Ordering,
    ) -> io::Result<Option<Entry>> {
        loop {
            if self.pending.is_none() {
                self.pending = self.next_record()?;
            }
            let Some(e) = &self.pending else {
                return Ok(None);
            };
            match order(&e.name, name) {
                Ordering::Less => self.pending = None,
                Ordering::Equal => return Ok(self.pending.take()),
                Ordering::Greater => return Ok(None),
            }
        }
    }

    /// The compressed bytes of `e` (exactly `e.comp` of them).
    pub fn raw(&mut self, e: &Entry) -> io::Result<impl Read + '_> {
        self.data(e.offset, e.comp)
    }

    /// The `comp` compressed bytes of the entry whose local header is at `offset`: the header
    /// and the name and extra field it gives are passed over.
    pub fn data(&mut self, offset: u64, comp: u64) -> io::Result<Tracked<'_>> {
        let mut h = [0u8; 30];
        self.read_at(offset, &mut h)?;
        if u32_at(&h, 0) != 0x0403_4b50 {
            return Err(bad("no local header where the directory says"));
        }
        let skip = u16_at(&h, 26) as u64 + u16_at(&h, 28) as u64;
        self.read_at(offset + 30 + skip, &mut [])?;
        Ok(self.tracked(comp))
    }

    /// Reads `buf.len()` bytes from `offset` (going back and forth without dropping what was
    /// read ahead: the next entry's bytes usually follow).
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if self.pos == u64::MAX {
            self.data.seek(SeekFrom::Start(offset))?;
        } else if self.pos != offset {
            self.data
                .seek_relative(offset.wrapping_sub(self.pos) as i64)?;
        }
        self.pos = u64::MAX;
        self.data.read_exact(buf)?;
        self.pos = offset + buf.len() as u64;
        Ok(())
    }

    /// The data of an entry whose local header of `header_len` bytes is at `offset`: that header
    /// as it is in the file, then a reader of the `comp` bytes after it.
    pub fn header_and_data(
        &mut self,
        offset: u64,
        header_len: u64,
        comp: u64,
    ) -> io::Result<(Vec<u8>, impl Read + '_)> {
        let mut h = vec![0u8; header_len as usize];
        self.read_at(offset, &mut h)?;
        Ok((h, self.tracked(comp)))
    }

    /// A reader of the next `len` bytes that keeps `pos` up to date.
    fn tracked(&mut self, len: u64) -> Tracked<'_> {
        Tracked {
            data: (&mut self.data).take(len),
            pos: &mut self.pos,
        }
    }

    /// The next record of the central directory.
    pub fn next_record(&mut self) -> io::Result<Option<Entry>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut h = [0u8; 46];
        self.cd.read_exact(&mut h)?;
        if u32_at(&h, 0) != 0x0201_4b50 {
            return Err(bad("broken central directory"));
        }
        let (n, x, c) = (
            u16_at(&h, 28) as usize,
            u16_at(&h, 30) as usize,
            u16_at(&h, 32) as usize,
        );
        let mut rest = vec![0u8; n + x + c];
        self.cd.read_exact(&mut rest)?;
        let name = String::from_utf8_lossy(&rest[..n]).into_owned();
        let mut e = Entry {
            name,
            flags: u16_at(&h, 8),
            method: u16_at(&h, 10),
            crc: u32_at(&h, 16),
            comp: u32_at(&h, 20) as u64,
            size: u32_at(&h, 24) as u64,
            offset: u32_at(&h, 42) as u64,
            mtime: None,
            sum: None,
            record: Vec::new(),
        };
        // ZIP64 extra field: the values that are 0xFFFFFFFF above, in this order.
        let mut extra = &rest[n..n + x];
        while extra.len() >= 4 {
            let (id, len) = (u16_at(extra, 0), u16_at(extra, 2) as usize);
            let body = &extra[4..(4 + len).min(extra.len())];
            if id == 1 {
                let mut i = 0;
                let mut take = |v: &mut u64| {
                    if *v == 0xFFFF_FFFF && body.len() >= i + 8 {
                        *v = u64_at(body, i);
                        i += 8;
                    }
                };
                take(&mut e.size);
                take(&mut e.comp);
                take(&mut e.offset);
            } else if id == 0x5455 && body.len() >= 5 && body[0] & 1 == 1 {
                e.mtime = Some(u32_at(body, 1));
            } else if id == super::writer::EXTRA_SUM && body.len() == 4 {
                e.sum = Some(u32_at(body, 0));
            }
            extra = &extra[(4 + len).min(extra.len())..];
        }
        e.record = [&h[..], &rest[..]].concat();
        Ok(Some(e))
    }
}

/// Reads from the previous zip and counts what it read.
pub struct Tracked<'a> {
    data: io::Take<&'a mut BufReader<File>>,
    pos: &'a mut u64,
}

impl Read for Tracked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let at = std::mem::replace(self.pos, u64::MAX);
        let n = self.data.read(buf)?;
        *self.pos = at.saturating_add(n as u64);
        Ok(n)
    }
}

impl BufRead for Tracked<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // What is buffered is not read yet: `pos` stays.
        self.data.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.data.consume(n);
        *self.pos = self.pos.saturating_add(n as u64);
    }
}
