//! Deterministic file and image bytes, generated on demand from (seed, id, size).
//!
//! Images are real, decodable files padded to the exact declared size with ancillary data
//! (PNG private chunk, JPEG COM segments, GIF comment extensions). Other kinds are
//! random-access so large files can be streamed and range-served without materialising them.

use crate::id::Id;
use std::io::Write;

/// What bytes a file is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Pdf,
    Text,
    /// A valid JSON document (`{"data":"..."}`), as an uploaded `config.json` holds.
    Json,
    Binary,
}

/// Images above this size are still generated in one piece (they are at most a few MB).
const TEXT_LINE: u64 = 64;

impl Kind {
    pub fn from_mime(mime: &str) -> Kind {
        match mime {
            "image/png" => Kind::Png,
            "image/jpeg" | "image/jpg" => Kind::Jpeg,
            "image/gif" => Kind::Gif,
            "application/pdf" => Kind::Pdf,
            "application/json" => Kind::Json,
            m if m.starts_with("text/") => Kind::Text,
            _ => Kind::Binary,
        }
    }
    pub fn is_image(self) -> bool {
        matches!(self, Kind::Png | Kind::Jpeg | Kind::Gif)
    }
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Pdf => "application/pdf",
            Kind::Text => "text/plain",
            Kind::Json => "application/json",
            Kind::Binary => "application/octet-stream",
        }
    }
}

/// SplitMix64 step.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A per-object key from the world seed and an id.
pub fn file_key(seed: u64, id: Id) -> u64 {
    let mut h = mix(seed);
    for b in id.as_str().bytes() {
        h = mix(h ^ b as u64);
    }
    h
}

/// Image dimensions for a kind/key (None for non-images).
pub fn image_dims(kind: Kind, key: u64) -> Option<(u32, u32)> {
    match kind {
        Kind::Png => Some((16 + (key % 81) as u32, 16 + ((key >> 8) % 65) as u32)),
        Kind::Jpeg => Some((8, 8)),
        Kind::Gif => Some((1, 1)),
        _ => None,
    }
}

fn pad_ok(kind: Kind, pad: u64) -> bool {
    match kind {
        Kind::Png => pad == 0 || pad >= 12,
        Kind::Jpeg => pad == 0 || pad >= 4,
        Kind::Gif => pad == 0 || (pad >= 3 && pad != 4),
        _ => true,
    }
}

/// The smallest size >= `requested` for which a valid file of this kind can be produced.
pub fn fit_size(kind: Kind, key: u64, requested: u64) -> u64 {
    if kind == Kind::Json {
        return requested.max((JSON_HEAD.len() + JSON_TAIL.len()) as u64);
    }
    if !kind.is_image() {
        return requested;
    }
    let base = image_core(kind, key, 0).len() as u64;
    let mut s = requested.max(base);
    while !pad_ok(kind, s - base) {
        s += 1;
    }
    s
}

/// Filler byte stream (random access).
fn filler(key: u64, off: u64) -> u8 {
    let w = mix(key ^ (off / 8).wrapping_mul(0x1000_0000_01B3));
    (w >> ((off % 8) * 8)) as u8
}

/// The same bytes as [`filler`] for each offset, one 8-byte word per `mix` (the benchmark
/// serves hundreds of MB of them: the fake server must not be its bottleneck).
fn fill_random(key: u64, start: u64, buf: &mut [u8]) {
    let mut off = start;
    let mut i = 0;
    // The unaligned head, byte by byte.
    while i < buf.len() && !off.is_multiple_of(8) {
        buf[i] = filler(key, off);
        i += 1;
        off += 1;
    }
    let mut words = buf[i..].chunks_exact_mut(8);
    for w in &mut words {
        w.copy_from_slice(&mix(key ^ (off / 8).wrapping_mul(0x1000_0000_01B3)).to_le_bytes());
        off += 8;
    }
    for b in words.into_remainder() {
        *b = filler(key, off);
        off += 1;
    }
}

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "backup",
    "channel",
    "post",
    "thread",
    "reply",
    "team",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "zip",
    "file",
    "mattermost",
    "rust",
    "data",
];

fn text_line(key: u64, line: u64) -> [u8; TEXT_LINE as usize] {
    let mut out = [b' '; TEXT_LINE as usize];
    let mut s = format!("{line:06} ");
    let mut h = mix(key ^ line);
    while s.len() < TEXT_LINE as usize - 1 {
        s.push_str(WORDS[(h % WORDS.len() as u64) as usize]);
        s.push(' ');
        h = mix(h);
    }
    out[..TEXT_LINE as usize - 1].copy_from_slice(&s.as_bytes()[..TEXT_LINE as usize - 1]);
    out[TEXT_LINE as usize - 1] = b'\n';
    out
}

const JSON_HEAD: &[u8] = b"{\"data\":\"";
const JSON_TAIL: &[u8] = b"\"}\n";

const PDF_HEAD: &[u8] = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
const PDF_TAIL: &[u8] = b"\n%%EOF\n";

/// Fills `buf` with bytes `[start, start+buf.len())` of a file. Images are generated whole.
pub fn fill_range(kind: Kind, key: u64, size: u64, start: u64, buf: &mut [u8]) {
    match kind {
        Kind::Png | Kind::Jpeg | Kind::Gif => {
            let all = image_bytes(kind, key, size);
            let s = start as usize;
            buf.copy_from_slice(&all[s..s + buf.len()]);
        }
        Kind::Text => {
            let mut off = start;
            let mut i = 0;
            while i < buf.len() {
                let line = text_line(key, off / TEXT_LINE);
                let lo = (off % TEXT_LINE) as usize;
                let n = (TEXT_LINE as usize - lo).min(buf.len() - i);
                buf[i..i + n].copy_from_slice(&line[lo..lo + n]);
                i += n;
                off += n as u64;
            }
        }
        Kind::Json => {
            // Letters between the head and the tail: a string needs no escapes.
            fill_random(key, start, buf);
            let tail_at = size.saturating_sub(JSON_TAIL.len() as u64);
            for (i, b) in buf.iter_mut().enumerate() {
                let o = start + i as u64;
                *b = if o < JSON_HEAD.len() as u64 {
                    JSON_HEAD[o as usize]
                } else if o >= tail_at {
                    JSON_TAIL[(o - tail_at) as usize]
                } else {
                    b'a' + *b % 26
                };
            }
        }
        Kind::Pdf => {
            fill_random(key, start, buf);
            for (i, b) in buf.iter_mut().enumerate() {
                let o = start + i as u64;
                if o < PDF_HEAD.len() as u64 {
                    *b = PDF_HEAD[o as usize];
                } else if size >= (PDF_HEAD.len() + PDF_TAIL.len()) as u64
                    && o >= size - PDF_TAIL.len() as u64
                {
                    *b = PDF_TAIL[(o - (size - PDF_TAIL.len() as u64)) as usize];
                }
            }
        }
        Kind::Binary => {
            fill_random(key, start, buf);
            // A zip-like magic at the start (the rest is not a valid archive).
            for (i, b) in buf.iter_mut().enumerate() {
                let o = start + i as u64;
                if o < 4 {
                    *b = b"PK\x03\x04"[o as usize];
                }
            }
        }
    }
}

/// The whole file (only for small files: tests, images).
pub fn full_bytes(kind: Kind, key: u64, size: u64) -> Vec<u8> {
    if kind.is_image() {
        return image_bytes(kind, key, size);
    }
    let mut v = vec![0u8; size as usize];
    fill_range(kind, key, size, 0, &mut v);
    v
}

fn colour(key: u64) -> [u8; 3] {
    let h = mix(key);
    [h as u8, (h >> 8) as u8, (h >> 16) as u8]
}

/// Image bytes padded to exactly `size` (if `size` is feasible, see `fit_size`).
pub fn image_bytes(kind: Kind, key: u64, size: u64) -> Vec<u8> {
    let base = image_core(kind, key, 0).len() as u64;
    let pad = size.saturating_sub(base);
    image_core(kind, key, if pad_ok(kind, pad) { pad } else { 0 })
}

fn image_core(kind: Kind, key: u64, pad: u64) -> Vec<u8> {
    match kind {
        Kind::Png => {
            let (w, h) = image_dims(kind, key).unwrap_or((16, 16));
            png(w, h, key, pad)
        }
        Kind::Jpeg => jpeg(key, pad),
        _ => gif(key, pad),
    }
}

fn png_chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(ty);
    out.extend_from_slice(data);
    let mut c = crc32fast::Hasher::new();
    c.update(ty);
    c.update(data);
    out.extend_from_slice(&c.finalize().to_be_bytes());
}

/// An RGB PNG with a two-colour gradient; `pad` extra bytes in a private `fkPd` chunk.
pub fn png(w: u32, h: u32, key: u64, pad: u64) -> Vec<u8> {
    let a = colour(key);
    let b = colour(key ^ 0xABCD);
    let mut raw = Vec::with_capacity(((w * 3 + 1) * h) as usize);
    for y in 0..h {
        raw.push(0);
        for x in 0..w {
            let t = (x + y) * 255 / (w + h).max(1);
            for c in 0..3 {
                raw.push(((a[c] as u32 * (255 - t) + b[c] as u32 * t) / 255) as u8);
            }
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).expect("in-memory write");
    let idat = z.finish().expect("in-memory write");
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &idat);
    if pad >= 12 {
        let mut data = vec![0u8; (pad - 12) as usize];
        fill_random(key, 0, &mut data);
        png_chunk(&mut out, b"fkPd", &data);
    }
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A baseline 8x8 grey JPEG; `pad` bytes of COM segments after SOI.
pub fn jpeg(key: u64, pad: u64) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let mut rest = pad;
    let mut off = 0u64;
    while rest >= 4 {
        let mut seg = rest.min(65537);
        if rest - seg > 0 && rest - seg < 4 {
            seg -= 4;
        }
        let len = (seg - 2) as usize; // includes the 2 length bytes
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        let mut data = vec![0u8; len - 2];
        fill_random(key, off, &mut data);
        off += data.len() as u64;
        out.extend_from_slice(&data);
        rest -= seg;
    }
    // DQT: table 0, all ones.
    out.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend_from_slice(&[1u8; 64]);
    // SOF0: 8-bit, 8x8, one component.
    out.extend_from_slice(&[
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00,
    ]);
    // DHT DC0 and AC0: a single 1-bit code for symbol 0.
    for class in [0x00u8, 0x10] {
        out.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, class, 1]);
        out.extend_from_slice(&[0u8; 15]);
        out.push(0x00);
    }
    // SOS + entropy data: DC category 0 ("0"), EOB ("0"), padded with ones.
    out.extend_from_slice(&[
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x3F,
    ]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A 1x1 GIF89a; `pad` bytes of comment extensions.
pub fn gif(key: u64, pad: u64) -> Vec<u8> {
    let c = colour(key);
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]);
    out.extend_from_slice(&c);
    out.extend_from_slice(&[255, 255, 255]);
    if pad >= 3 {
        out.extend_from_slice(&[0x21, 0xFE]);
        let mut p = pad - 3;
        let mut off = 0;
        while p >= 2 {
            let mut chunk = p.min(256);
            if p - chunk == 1 {
                chunk -= 1;
            }
            let n = (chunk - 1) as usize;
            out.push(n as u8);
            let mut data = vec![0u8; n];
            fill_random(key, off, &mut data);
            off += n as u64;
            out.extend_from_slice(&data);
            p -= chunk;
        }
        out.push(0);
    }
    out.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
    out.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00]);
    out.push(0x3B);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_have_exact_sizes() {
        for kind in [Kind::Png, Kind::Jpeg, Kind::Gif] {
            for req in [0u64, 1, 5, 13, 100, 1000, 70_000, 200_000] {
                let s = fit_size(kind, 7, req);
                assert!(s >= req);
                let b = image_bytes(kind, 7, s);
                assert_eq!(b.len() as u64, s, "{kind:?} {req}");
            }
        }
        let j = image_bytes(Kind::Jpeg, 1, 150_000);
        assert_eq!(&j[..2], &[0xFF, 0xD8]);
        assert_eq!(&j[j.len() - 2..], &[0xFF, 0xD9]);
        let g = image_bytes(Kind::Gif, 1, 1000);
        assert_eq!(&g[..6], b"GIF89a");
        assert_eq!(*g.last().unwrap(), 0x3B);
    }

    #[test]
    fn word_fill_is_the_byte_filler() {
        for start in [0u64, 1, 7, 8, 13, 64 * 1024 - 3] {
            for len in [0usize, 1, 5, 8, 9, 100] {
                let mut buf = vec![0u8; len];
                fill_random(99, start, &mut buf);
                let want: Vec<u8> = (0..len as u64).map(|i| filler(99, start + i)).collect();
                assert_eq!(buf, want, "start {start} len {len}");
            }
        }
    }

    #[test]
    fn ranges_match_full() {
        for kind in [Kind::Text, Kind::Pdf, Kind::Json, Kind::Binary, Kind::Png] {
            let size = fit_size(kind, 3, 5000);
            let all = full_bytes(kind, 3, size);
            let mut part = vec![0u8; 777];
            fill_range(kind, 3, size, 1234, &mut part);
            assert_eq!(&all[1234..1234 + 777], &part[..]);
        }
    }

    #[test]
    fn json_files_are_json_of_their_size() {
        for req in [0u64, 1, 12, 13, 2000] {
            let size = fit_size(Kind::Json, 5, req);
            assert!(size >= req);
            let all = full_bytes(Kind::Json, 5, size);
            assert_eq!(all.len() as u64, size);
            let v: serde_json::Value = serde_json::from_slice(&all).unwrap();
            assert!(v["data"].is_string(), "{req}");
        }
        // An octet-stream named `.json` is not JSON.
        let b = full_bytes(Kind::from_mime("application/octet-stream"), 5, 2000);
        assert!(serde_json::from_slice::<serde_json::Value>(&b).is_err());
    }
}
