//! A lean zip writer: entries are streamed into a seekable file, the central directory is
//! spilled to an unnamed temp file, and ZIP64 records are written where sizes, offsets or the
//! number of entries need them. Memory does not grow with the number of entries.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

use super::check::EntryCheck;

/// Compression methods of the zip format.
pub const STORED: u16 = 0;
pub const DEFLATED: u16 = 8;

/// Files at least this large get ZIP64 sizes in their local header: far enough below 4 GiB that
/// a deflated stream (which can grow a little) cannot cross the limit unannounced.
const ZIP64_FROM: u64 = 0xF000_0000;
const U32_MAX: u64 = 0xFFFF_FFFF;
/// Bit 11: names are UTF-8.
const FLAG_UTF8: u16 = 0x0800;
const MADE_BY_UNIX: u16 = 3 << 8;

/// Where and when of one entry.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// MS-DOS time and date.
    pub time: u16,
    pub date: u16,
    /// Unix mode with the file type bits (`0o100600`, `0o040755`).
    pub mode: u32,
    /// Modification time in Unix seconds, written as an extended timestamp (`UT`) in the
    /// central directory; a later zip trusts it to copy the entry without reading the file.
    pub mtime: Option<u32>,
}

/// The extended timestamp extra field (`UT`, Info-ZIP): flags (bit 0: modification time).
const EXTRA_UT: u16 = 0x5455;

/// The zip being written into `out`.
pub struct ZipOut<W: Write + Seek> {
    out: W,
    pos: u64,
    cd: BufWriter<File>,
    cd_len: u64,
    entries: u64,
    /// For entries compressed on the writing thread.
    deflater: Deflater,
    /// For entries copied from the previous zip.
    buf: Vec<u8>,
}

/// What an entry's data came to: CRC-32 and size of the file, length and [`Sum`] of its bytes
/// in the zip.
#[derive(Debug, Clone, Copy)]
pub struct Data {
    pub crc: u32,
    pub size: u64,
    pub comp: u64,
    pub sum: u32,
}

/// Compresses the data of one entry at a time, on whichever thread owns it. The bytes it gives
/// depend only on the data, the method and the level: the same whether the writer compresses
/// an entry itself or a worker thread does it ahead of the writer.
pub struct Deflater {
    /// One compressor for every entry, reset in between (a new one per entry would allocate
    /// and clear its tables each time: most entries are small JSON files).
    deflate: Compress,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
}

impl Deflater {
    pub fn new(level: u32) -> Self {
        Deflater {
            deflate: Compress::new(Compression::new(level), false),
            inbuf: vec![0u8; 1 << 16],
            outbuf: vec![0u8; 1 << 16],
        }
    }

    /// Reads `src` to its end and gives its bytes as they go into the zip (`method`: stored or
    /// deflated) to `out`, in pieces of at most 64 KiB. `name` is for errors.
    pub fn compress(
        &mut self,
        name: &str,
        method: u16,
        src: &mut dyn Read,
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Data> {
        let mut crc = crc32fast::Hasher::new();
        let mut sum = Sum::default();
        let mut size = 0u64;
        let mut comp = 0u64;
        if method == DEFLATED {
            self.deflate.reset();
        }
        loop {
            let n = match src.read(&mut self.inbuf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            crc.update(&self.inbuf[..n]);
            size += n as u64;
            if method != DEFLATED {
                if n == 0 {
                    break;
                }
                out(&self.inbuf[..n])?;
                sum.update(&self.inbuf[..n]);
                comp += n as u64;
                continue;
            }
            let flush = if n == 0 {
                FlushCompress::Finish
            } else {
                FlushCompress::None
            };
            let mut input = &self.inbuf[..n];
            loop {
                let (in0, out0) = (self.deflate.total_in(), self.deflate.total_out());
                let status = self
                    .deflate
                    .compress(input, &mut self.outbuf, flush)
                    .map_err(io::Error::other)?;
                let produced = (self.deflate.total_out() - out0) as usize;
                let consumed = (self.deflate.total_in() - in0) as usize;
                if status == Status::BufError && produced == 0 && consumed == 0 {
                    return Err(io::Error::other(format!("{name}: the compressor is stuck")));
                }
                input = &input[consumed..];
                out(&self.outbuf[..produced])?;
                sum.update(&self.outbuf[..produced]);
                comp += produced as u64;
                let done = match flush {
                    FlushCompress::Finish => status == Status::StreamEnd,
                    _ => input.is_empty() && produced < self.outbuf.len(),
                };
                if done {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let crc = crc.finalize();
        Ok(Data {
            crc,
            size,
            comp,
            sum: sum.finish(crc, size, comp),
        })
    }
}

/// A file entry whose local header is written and whose data is being written: see
/// [`ZipOut::begin_file`].
pub struct Begun {
    offset: u64,
    header_len: u64,
    zip64: bool,
    method: u16,
    written: u64,
}

/// What the central directory needs of an entry.
pub struct Record<'a> {
    pub name: &'a str,
    pub stamp: Stamp,
    pub method: u16,
    pub crc: u32,
    pub comp: u64,
    pub size: u64,
    pub offset: u64,
    /// The local header has ZIP64 sizes.
    pub zip64: bool,
    pub dir: bool,
    /// The entry's [`Sum`], recorded in the central directory (files only).
    pub sum: Option<u32>,
}

impl<'a> Record<'a> {
    /// A folder entry (`name` ends with `/`) whose local header is at `offset`.
    pub fn dir(name: &'a str, stamp: Stamp, offset: u64) -> Self {
        Record {
            name,
            stamp,
            method: STORED,
            crc: 0,
            comp: 0,
            size: 0,
            offset,
            zip64: false,
            dir: true,
            sum: None,
        }
    }
}

/// A checksum of an entry as it lies in the zip: CRC-32 of its compressed bytes, then of its
/// CRC-32, size and compressed size (so a damaged claim fails it too). Recorded in an extra
/// field of the central directory ([`EXTRA_SUM`]), it lets a later run check a copied or kept
/// entry at the speed of reading it, without inflating it.
#[derive(Default)]
pub struct Sum(crc32fast::Hasher);

impl Sum {
    pub fn update(&mut self, compressed: &[u8]) {
        self.0.update(compressed);
    }
    pub fn finish(mut self, crc: u32, size: u64, comp: u64) -> u32 {
        self.0.update(&crc.to_le_bytes());
        self.0.update(&size.to_le_bytes());
        self.0.update(&comp.to_le_bytes());
        self.0.finalize()
    }
}

/// The extra field of an entry's [`Sum`] (`MB`, 4 bytes; other readers skip it).
pub const EXTRA_SUM: u16 = 0x424d;

/// Does an entry copied with [`ZipOut::add_checked`] get ZIP64 sizes in its local header?
pub fn raw_zip64(size: u64, comp: u64) -> bool {
    size >= ZIP64_FROM || comp >= ZIP64_FROM
}

impl<W: Write + Seek> ZipOut<W> {
    /// A zip written from the current position of `out` (a new, empty file), with its central
    /// directory collected in `spill` (an empty temp file) until [`ZipOut::finish`].
    pub fn new(mut out: W, spill: File, level: u32) -> io::Result<Self> {
        let pos = out.stream_position()?;
        Ok(ZipOut {
            out,
            pos,
            cd: BufWriter::with_capacity(1 << 16, spill),
            cd_len: 0,
            entries: 0,
            deflater: Deflater::new(level),
            buf: vec![0u8; 1 << 16],
        })
    }

    /// A folder entry (`name` ends with `/`).
    pub fn add_dir(&mut self, name: &str, stamp: Stamp) -> io::Result<()> {
        let offset = self.pos;
        self.local_header(name, STORED, 0, 0, 0, false, stamp)?;
        self.record(Record::dir(name, stamp, offset))
    }

    /// A file entry from `src`, which holds `len` bytes (its size on disk), compressed with
    /// `method` on this thread. Returns the number of bytes the entry's data took in the zip.
    pub fn add_file(
        &mut self,
        name: &str,
        stamp: Stamp,
        method: u16,
        src: &mut dyn Read,
        len: u64,
    ) -> io::Result<u64> {
        let mut begun = self.begin_file(name, stamp, method, len)?;
        let out = &mut self.out;
        let data = self.deflater.compress(name, method, src, &mut |b| {
            begun.written += b.len() as u64;
            out.write_all(b)
        })?;
        self.end_file(name, stamp, begun, data)
    }

    /// Starts a file entry of a file of `len` bytes (its size on disk) whose data, compressed
    /// with `method`, follows in pieces ([`ZipOut::write_data`]); [`ZipOut::end_file`] ends it.
    pub fn begin_file(
        &mut self,
        name: &str,
        stamp: Stamp,
        method: u16,
        len: u64,
    ) -> io::Result<Begun> {
        let offset = self.pos;
        let zip64 = len >= ZIP64_FROM;
        let header_len = self.local_header(name, method, 0, 0, 0, zip64, stamp)?;
        Ok(Begun {
            offset,
            header_len,
            zip64,
            method,
            written: 0,
        })
    }

    /// The next piece of the data of the entry `begun`.
    pub fn write_data(&mut self, begun: &mut Begun, bytes: &[u8]) -> io::Result<()> {
        begun.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    /// Ends the entry `begun`, whose data came to `data`: patches its CRC and sizes into the
    /// local header and records it. Returns the number of bytes its data took in the zip.
    pub fn end_file(
        &mut self,
        name: &str,
        stamp: Stamp,
        begun: Begun,
        data: Data,
    ) -> io::Result<u64> {
        let Begun {
            offset,
            header_len,
            zip64,
            method,
            written,
        } = begun;
        let Data {
            crc,
            size,
            comp,
            sum,
        } = data;
        if written != comp {
            return Err(io::Error::other(format!(
                "{name}: {written} bytes written of {comp} compressed"
            )));
        }
        let end = offset + header_len + comp;
        if !zip64 && (size > U32_MAX || comp > U32_MAX) {
            return Err(io::Error::other(format!(
                "{name}: grew past 4 GiB while being zipped"
            )));
        }
        // Patch CRC and sizes into the local header.
        self.out.seek(SeekFrom::Start(offset + 14))?;
        self.out.write_all(&crc.to_le_bytes())?;
        if zip64 {
            self.out.seek(SeekFrom::Start(offset + header_len - 16))?;
            self.out.write_all(&size.to_le_bytes())?;
            self.out.write_all(&comp.to_le_bytes())?;
        } else {
            self.out.write_all(&(comp as u32).to_le_bytes())?;
            self.out.write_all(&(size as u32).to_le_bytes())?;
        }
        self.out.seek(SeekFrom::Start(end))?;
        self.pos = end;
        self.record(Record {
            name,
            stamp,
            method,
            crc,
            comp,
            size,
            offset,
            zip64,
            dir: false,
            sum: Some(sum),
        })?;
        Ok(comp)
    }

    /// A file entry whose compressed bytes (`comp` of them, from `raw`) are known already: an
    /// entry of a previous zip, copied as it is after a check: against its [`Sum`] `sum` when
    /// the previous zip recorded one, else `check` inflates it and compares its CRC-32 and
    /// size. When they do not match, or `raw` cannot be read, nothing of the entry stays in
    /// the zip and the answer says why (the caller compresses the file afresh).
    ///
    /// # Errors
    /// Only errors writing the zip.
    #[allow(clippy::too_many_arguments)]
    pub fn add_checked(
        &mut self,
        name: &str,
        stamp: Stamp,
        (method, crc, comp, size, sum): (u16, u32, u64, u64, Option<u32>),
        raw: &mut dyn Read,
        check: &mut EntryCheck,
    ) -> io::Result<Result<(), String>> {
        let offset = self.pos;
        let zip64 = raw_zip64(size, comp);
        self.local_header(name, method, crc, comp, size, zip64, stamp)?;
        if sum.is_none() {
            check.start(method, size, crc);
        }
        let mut new_sum = Sum::default();
        let mut left = comp;
        let mut verdict = Ok(());
        while left > 0 {
            let want = left.min(self.buf.len() as u64) as usize;
            let n = match raw.read(&mut self.buf[..want]) {
                Ok(0) => {
                    verdict = Err("the previous zip ends inside it".to_string());
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    verdict = Err(format!("reading the previous zip: {e}"));
                    break;
                }
            };
            if sum.is_none() {
                check.feed(&self.buf[..n]);
                if check.failed() {
                    break;
                }
            }
            new_sum.update(&self.buf[..n]);
            self.out.write_all(&self.buf[..n])?;
            left -= n as u64;
        }
        let new_sum = new_sum.finish(crc, size, comp);
        let verdict = verdict.and_then(|()| match sum {
            Some(s) if s == new_sum => Ok(()),
            Some(_) => Err("its checksum does not match: the data is damaged".to_string()),
            None => check.finish(),
        });
        if let Err(why) = verdict {
            // Back to where the entry began: what comes next is written over it.
            self.out.seek(SeekFrom::Start(offset))?;
            self.pos = offset;
            return Ok(Err(why));
        }
        self.pos += comp;
        self.record(Record {
            name,
            stamp,
            method,
            crc,
            comp,
            size,
            offset,
            zip64,
            dir: false,
            sum: Some(new_sum),
        })?;
        Ok(Ok(()))
    }

    /// Writes the central directory and its end records; returns the output and the length of
    /// the zip (the file may be longer where an entry was dropped at its end: cut it there).
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        let cd_start = self.pos;
        let mut spill = self.cd.into_inner().map_err(|e| e.into_error())?;
        spill.seek(SeekFrom::Start(0))?;
        let copied = io::copy(&mut spill, &mut self.out)?;
        debug_assert_eq!(copied, self.cd_len);
        let e = end_records(self.entries, cd_start, self.cd_len);
        self.out.write_all(&e)?;
        self.out.flush()?;
        Ok((self.out, cd_start + self.cd_len + e.len() as u64))
    }

    /// Entries written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes a local file header; returns its length.
    #[allow(clippy::too_many_arguments)]
    fn local_header(
        &mut self,
        name: &str,
        method: u16,
        crc: u32,
        comp: u64,
        size: u64,
        zip64: bool,
        stamp: Stamp,
    ) -> io::Result<u64> {
        let h = local_header_bytes(name, method, crc, comp, size, zip64, stamp);
        self.out.write_all(&h)?;
        self.pos += h.len() as u64;
        Ok(h.len() as u64)
    }

    /// Appends the entry's central directory record to the spill file.
    fn record(&mut self, r: Record<'_>) -> io::Result<()> {
        let c = central_record(&r)?;
        self.cd.write_all(&c)?;
        self.cd_len += c.len() as u64;
        self.entries += 1;
        Ok(())
    }
}

/// A local file header as [`ZipOut`] writes it (a deflated entry's CRC and sizes are patched
/// in once known: the result is this with the final values).
#[allow(clippy::too_many_arguments)]
pub fn local_header_bytes(
    name: &str,
    method: u16,
    crc: u32,
    comp: u64,
    size: u64,
    zip64: bool,
    stamp: Stamp,
) -> Vec<u8> {
    let mut h = Vec::with_capacity(30 + name.len() + 20);
    h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    h.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
    h.extend_from_slice(&FLAG_UTF8.to_le_bytes());
    h.extend_from_slice(&method.to_le_bytes());
    h.extend_from_slice(&stamp.time.to_le_bytes());
    h.extend_from_slice(&stamp.date.to_le_bytes());
    h.extend_from_slice(&crc.to_le_bytes());
    if zip64 {
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        h.extend_from_slice(&u32::MAX.to_le_bytes());
    } else {
        h.extend_from_slice(&(comp as u32).to_le_bytes());
        h.extend_from_slice(&(size as u32).to_le_bytes());
    }
    h.extend_from_slice(&(name.len() as u16).to_le_bytes());
    h.extend_from_slice(&(if zip64 { 20u16 } else { 0 }).to_le_bytes());
    h.extend_from_slice(name.as_bytes());
    if zip64 {
        h.extend_from_slice(&1u16.to_le_bytes());
        h.extend_from_slice(&16u16.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&comp.to_le_bytes());
    }
    h
}

/// The records after the central directory (`entries` records of `cd_len` bytes from
/// `cd_start`): the end of central directory record, after ZIP64 ones where needed.
pub fn end_records(entries: u64, cd_start: u64, cd_len: u64) -> Vec<u8> {
    let cd_end = cd_start + cd_len;
    let needs64 = entries >= 0xFFFF || cd_start >= U32_MAX || cd_len >= U32_MAX;
    let mut e = Vec::with_capacity(98);
    if needs64 {
        // ZIP64 end of central directory record, then its locator.
        e.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        e.extend_from_slice(&44u64.to_le_bytes());
        e.extend_from_slice(&(MADE_BY_UNIX | 45).to_le_bytes());
        e.extend_from_slice(&45u16.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&entries.to_le_bytes());
        e.extend_from_slice(&entries.to_le_bytes());
        e.extend_from_slice(&cd_len.to_le_bytes());
        e.extend_from_slice(&cd_start.to_le_bytes());
        e.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&cd_end.to_le_bytes());
        e.extend_from_slice(&1u32.to_le_bytes());
    }
    let n16 = entries.min(0xFFFF) as u16;
    e.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e.extend_from_slice(&n16.to_le_bytes());
    e.extend_from_slice(&n16.to_le_bytes());
    e.extend_from_slice(&(cd_len.min(U32_MAX) as u32).to_le_bytes());
    e.extend_from_slice(&(cd_start.min(U32_MAX) as u32).to_le_bytes());
    e.extend_from_slice(&0u16.to_le_bytes());
    e
}

/// The central directory record of an entry, exactly as [`ZipOut`] writes it.
pub fn central_record(r: &Record<'_>) -> io::Result<Vec<u8>> {
    if r.name.len() > 0xFFFF {
        return Err(io::Error::other(format!("{}: name too long", r.name)));
    }
    let big_size = r.zip64 || r.size >= U32_MAX || r.comp >= U32_MAX;
    let big_off = r.offset >= U32_MAX;
    let mut extra = Vec::new();
    if big_size {
        extra.extend_from_slice(&r.size.to_le_bytes());
        extra.extend_from_slice(&r.comp.to_le_bytes());
    }
    if big_off {
        extra.extend_from_slice(&r.offset.to_le_bytes());
    }
    let mut ut = Vec::new();
    if let Some(t) = r.stamp.mtime {
        ut.extend_from_slice(&EXTRA_UT.to_le_bytes());
        ut.extend_from_slice(&5u16.to_le_bytes());
        ut.push(1);
        ut.extend_from_slice(&t.to_le_bytes());
    }
    if let Some(sum) = r.sum {
        ut.extend_from_slice(&EXTRA_SUM.to_le_bytes());
        ut.extend_from_slice(&4u16.to_le_bytes());
        ut.extend_from_slice(&sum.to_le_bytes());
    }
    let version = if big_size || big_off { 45u16 } else { 20 };
    let mut c = Vec::with_capacity(46 + r.name.len() + 4 + extra.len());
    c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    c.extend_from_slice(&(MADE_BY_UNIX | version).to_le_bytes());
    c.extend_from_slice(&version.to_le_bytes());
    c.extend_from_slice(&FLAG_UTF8.to_le_bytes());
    c.extend_from_slice(&r.method.to_le_bytes());
    c.extend_from_slice(&r.stamp.time.to_le_bytes());
    c.extend_from_slice(&r.stamp.date.to_le_bytes());
    c.extend_from_slice(&r.crc.to_le_bytes());
    let small = |v: u64, big: bool| if big { u32::MAX } else { v as u32 };
    c.extend_from_slice(&small(r.comp, big_size).to_le_bytes());
    c.extend_from_slice(&small(r.size, big_size).to_le_bytes());
    c.extend_from_slice(&(r.name.len() as u16).to_le_bytes());
    let extra_len = if extra.is_empty() { 0 } else { 4 + extra.len() } + ut.len();
    c.extend_from_slice(&(extra_len as u16).to_le_bytes());
    c.extend_from_slice(&0u16.to_le_bytes()); // comment
    c.extend_from_slice(&0u16.to_le_bytes()); // disk
    c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    let dos_dir = if r.dir { 0x10 } else { 0 };
    c.extend_from_slice(&((r.stamp.mode << 16) | dos_dir).to_le_bytes());
    c.extend_from_slice(&small(r.offset, big_off).to_le_bytes());
    c.extend_from_slice(r.name.as_bytes());
    if !extra.is_empty() {
        c.extend_from_slice(&1u16.to_le_bytes());
        c.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        c.extend_from_slice(&extra);
    }
    c.extend_from_slice(&ut);
    Ok(c)
}
