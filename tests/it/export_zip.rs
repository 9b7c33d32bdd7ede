//! Exports from a zip read its central directory one record at a time and inflate each entry
//! from its local header (issue 15, exports in bounded memory). A zip with ZIP64 records
//! everywhere (sizes and offsets in ZIP64 extra fields, a ZIP64 end of central directory) and
//! its entries under `data/` exports as the data dir does; a damaged entry fails the export
//! with an error naming it.

use std::collections::BTreeMap;
use std::io::Write;

use fakemm::Scale;

use crate::util::{text, tree, Env};

/// What goes wrong with one entry of a [`zip64`].
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Stored, with one byte of its data flipped (its CRC-32 is the one of the intact data).
    Flipped,
    /// Its record says it holds one byte less than it does.
    Short,
}

fn u16le(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u32le(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn u64le(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// A zip of `files` under `data/` (after a `data/` folder entry), every other entry deflated,
/// with ZIP64 records throughout: each entry's sizes and offset only in its ZIP64 extra field
/// (0xFFFFFFFF in the fixed fields), and a ZIP64 end of central directory. `fault` damages one
/// entry.
fn zip64(files: &BTreeMap<String, Vec<u8>>, fault: Option<(&str, Fault)>) -> Vec<u8> {
    const MAX: u32 = 0xFFFF_FFFF;
    let mut out = Vec::new();
    let mut cd = Vec::new();
    let entries = std::iter::once(("data/".to_string(), &[][..])).chain(
        files
            .iter()
            .map(|(k, v)| (format!("data/{k}"), v.as_slice())),
    );
    let mut count = 0u64;
    for (i, (name, content)) in entries.enumerate() {
        let fault = fault.and_then(|(n, f)| (format!("data/{n}") == name).then_some(f));
        let deflate = i % 2 == 1 && fault != Some(Fault::Flipped);
        let crc = crc32fast::hash(content);
        let mut data = if deflate {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(content).unwrap();
            e.finish().unwrap()
        } else {
            content.to_vec()
        };
        let mut size = content.len() as u64;
        match fault {
            Some(Fault::Flipped) => data[content.len() / 2] ^= 0x20,
            Some(Fault::Short) => size -= 1,
            None => {}
        }
        let method: u16 = if deflate { 8 } else { 0 };
        let offset = out.len() as u64;
        // Local header: version 4.5, UTF-8 names, 1980-01-01, sizes in the ZIP64 extra field.
        u32le(&mut out, 0x0403_4b50);
        for x in [45, 0x0800, method, 0, 0x21] {
            u16le(&mut out, x);
        }
        for x in [crc, MAX, MAX] {
            u32le(&mut out, x);
        }
        u16le(&mut out, name.len() as u16);
        u16le(&mut out, 20);
        out.extend_from_slice(name.as_bytes());
        for x in [1, 16] {
            u16le(&mut out, x);
        }
        u64le(&mut out, size);
        u64le(&mut out, data.len() as u64);
        out.extend_from_slice(&data);
        // Its central directory record.
        u32le(&mut cd, 0x0201_4b50);
        for x in [45 | 3 << 8, 45, 0x0800, method, 0, 0x21] {
            u16le(&mut cd, x);
        }
        for x in [crc, MAX, MAX] {
            u32le(&mut cd, x);
        }
        for x in [name.len() as u16, 28, 0, 0, 0] {
            u16le(&mut cd, x);
        }
        u32le(&mut cd, 0o100644 << 16);
        u32le(&mut cd, MAX);
        cd.extend_from_slice(name.as_bytes());
        for x in [1, 24] {
            u16le(&mut cd, x);
        }
        for x in [size, data.len() as u64, offset] {
            u64le(&mut cd, x);
        }
        count += 1;
    }
    let cd_start = out.len() as u64;
    out.extend_from_slice(&cd);
    let end64 = out.len() as u64;
    u32le(&mut out, 0x0606_4b50);
    u64le(&mut out, 44);
    u16le(&mut out, 45 | 3 << 8);
    u16le(&mut out, 45);
    u32le(&mut out, 0);
    u32le(&mut out, 0);
    for x in [count, count, cd.len() as u64, cd_start] {
        u64le(&mut out, x);
    }
    u32le(&mut out, 0x0706_4b50);
    u32le(&mut out, 0);
    u64le(&mut out, end64);
    u32le(&mut out, 1);
    u32le(&mut out, 0x0605_4b50);
    for x in [0, 0, 0xFFFF, 0xFFFF] {
        u16le(&mut out, x);
    }
    for x in [MAX, MAX] {
        u32le(&mut out, x);
    }
    u16le(&mut out, 0);
    out
}

#[test]
fn a_zip64_zip_of_a_data_folder_exports_as_the_data_dir_and_a_damaged_entry_is_named() {
    let env = Env::backed_up(Scale::Tiny);
    let files = tree(&env.data());
    std::fs::write(env.path("z64.zip"), zip64(&files, None)).unwrap();
    std::fs::create_dir_all(env.path("a")).unwrap();
    std::fs::create_dir_all(env.path("b")).unwrap();
    for (src, dir) in [("data", "a"), ("z64.zip", "b")] {
        let o = |p: &str| format!("{dir}/{p}");
        for args in [
            vec!["export", "md", "-d", src, "-o", &o("all.md")],
            vec![
                "export",
                "jsonl",
                src,
                "-o",
                &o("import/matter.jsonl"),
                "-a",
            ],
            vec!["export", "html", "-d", src, "-o", &o("site")],
        ] {
            let out = env.exec(&args);
            assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
        }
    }
    let (a, mut b) = (tree(&env.path("a")), tree(&env.path("b")));
    // md names each attachment where it is: in the data dir, or as `zip:entry`.
    let md = String::from_utf8(b["all.md"].clone()).unwrap();
    b.insert(
        "all.md".into(),
        md.replace("z64.zip:data/", "data/").into_bytes(),
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        if v != &b[k] {
            panic!(
                "{k} differs:\n{}\n---\n{}",
                String::from_utf8_lossy(v),
                String::from_utf8_lossy(&b[k])
            );
        }
    }

    let user = files
        .keys()
        .find(|k| k.starts_with("users/") && k.ends_with("__alice.json"))
        .unwrap();
    for (fault, says) in [
        (Fault::Flipped, "does not match its CRC-32"),
        (Fault::Short, "holds more than the"),
    ] {
        std::fs::write(env.path("bad.zip"), zip64(&files, Some((user, fault)))).unwrap();
        let out = env.exec(&["export", "md", "-d", "bad.zip", "-o", "bad.md"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("bad.zip:data/{user}")) && err.contains(says),
            "{err}"
        );
        assert!(err.contains("export from the data dir"), "{err}");
        assert!(!env.path("bad.md").exists());
    }
}
