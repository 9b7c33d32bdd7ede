//! Tests of the zip: what goes in, what is copied from the previous zip, what is checked.
use super::*;
use std::io::Write;

fn read_all(zip: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(File::open(zip).unwrap()).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        out.insert(e.name().to_string(), v);
    }
    out
}

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::File::create(p).unwrap().write_all(data).unwrap();
}

/// Sets the modification time of every file below `root` to `t`.
fn backdate(root: &Path, t: std::time::SystemTime) {
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            backdate(&p, t);
        } else {
            File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
    }
}

#[test]
fn a_zip_holds_every_file_and_a_rerun_copies_only_the_unchanged_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let big: Vec<u8> = (0..300_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    put(
        &data,
        "a/x.json",
        br#"{"id":"x","message":"hello hello hello hello"}"#,
    );
    put(&data, "a.json", b"{}");
    put(&data, "a/files/f__pic.png", &big);
    put(&data, "a/files/empty.txt", b"");
    put(
        &data,
        "users/\u{e9}l\u{e8}ve.json",
        "{\"name\":\"\u{e9}\"}".as_bytes(),
    );
    put(&data, ".matterbak-tmp-x", b"partial");
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.files, s.reused), (5, 0));
    let first = read_all(&zip);
    assert_eq!(first["a/files/f__pic.png"], big);
    assert_eq!(
        first["a/x.json"],
        br#"{"id":"x","message":"hello hello hello hello"}"#
    );
    assert_eq!(
        first["users/\u{e9}l\u{e8}ve.json"],
        "{\"name\":\"\u{e9}\"}".as_bytes()
    );
    assert!(first.contains_key("a/") && first.contains_key("a/files/"));
    assert!(!first.keys().any(|k| k.contains("tmp")));

    // Unchanged: everything is copied, and the zip reads the same.
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.files, s.reused), (5, 5));
    assert_eq!(read_all(&zip), first);

    // Same size, other content; a new file; a removed file.
    put(
        &data,
        "a/x.json",
        br#"{"id":"x","message":"HELLO hello hello hello"}"#,
    );
    put(&data, "b/new.json", b"[1]");
    std::fs::remove_file(data.join("a.json")).unwrap();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.files, s.reused), (5, 3));
    let third = read_all(&zip);
    assert_eq!(
        third["a/x.json"],
        br#"{"id":"x","message":"HELLO hello hello hello"}"#
    );
    assert_eq!(third["b/new.json"], b"[1]");
    assert!(!third.contains_key("a.json"));
    assert_eq!(third["a/files/f__pic.png"], big);
}

/// Sets the modification time of every file and folder below `root` (and of `root`).
fn age(root: &Path, t: std::time::SystemTime) {
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            age(&p, t);
        } else {
            File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
    }
    File::open(root).unwrap().set_modified(t).unwrap();
}

#[test]
fn an_unchanged_backup_keeps_its_zip_and_a_file_with_a_new_time_is_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    put(&data, "a/x.json", br#"{"id":"x","message":"one"}"#);
    put(&data, "a/files/f__n.txt", &b"note ".repeat(100));
    put(&data, "b.json", b"{}");
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    age(&data, past);
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.files, s.reused, s.kept), (3, 0, false));
    let first = std::fs::read(&zip).unwrap();

    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.files, s.reused, s.kept), (3, 3, true));
    assert_eq!(std::fs::read(&zip).unwrap(), first, "kept byte for byte");

    // Same size, other content, another time: read again, the rest copied.
    put(&data, "a/x.json", br#"{"id":"x","message":"two"}"#);
    let later = past + std::time::Duration::from_secs(10);
    File::options()
        .append(true)
        .open(data.join("a/x.json"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.files, s.reused, s.kept), (3, 2, false));
    assert_eq!(read_all(&zip)["a/x.json"], br#"{"id":"x","message":"two"}"#);
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert!(s.kept);
}

#[test]
fn an_entry_without_a_trusted_time_is_compared_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    put(&data, "a.json", br#"{"n":1}"#);
    put(&data, "state.json", br#"{"v":1}"#);
    let now = std::time::SystemTime::now();
    age(&data, now - std::time::Duration::from_secs(3600));
    // A time not before the zip's start (here: ahead of the clock) is not recorded.
    let ahead = now + std::time::Duration::from_secs(100);
    let set = |t| {
        File::options()
            .append(true)
            .open(data.join("state.json"))
            .unwrap()
            .set_modified(t)
            .unwrap()
    };
    set(ahead);
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    write_zip(&data, &zip, &cancel).unwrap();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert!(s.kept, "same content: kept");

    put(&data, "state.json", br#"{"v":2}"#);
    set(ahead);
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.kept, s.reused), (false, 1));
    assert_eq!(read_all(&zip)["state.json"], br#"{"v":2}"#);
}

#[test]
fn a_time_in_the_second_the_zip_starts_is_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("f");
    std::fs::write(&p, b"x").unwrap();
    let meta = std::fs::metadata(&p).unwrap();
    let secs = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(stamp(&meta, false, secs).mtime, None);
    assert_eq!(stamp(&meta, false, secs + 1).mtime, Some(secs as u32));
    assert_eq!(stamp(&meta, true, secs + 1).mtime, None, "not for folders");
}

#[test]
fn incompressible_data_is_stored_whatever_its_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..400_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    put(&data, "noise.txt", &noise);
    put(&data, "text.txt", &b"all work and no play ".repeat(20_000));
    let zip = tmp.path().join("out.zip");
    write_zip(&data, &zip, &Cancel::new()).unwrap();
    let mut z = zip::ZipArchive::new(File::open(&zip).unwrap()).unwrap();
    assert_eq!(
        z.by_name("noise.txt").unwrap().compression(),
        zip::CompressionMethod::Stored
    );
    assert_eq!(
        z.by_name("text.txt").unwrap().compression(),
        zip::CompressionMethod::Deflated
    );
    assert_eq!(read_all(&zip)["noise.txt"], noise);
}

#[test]
fn level_0_stores_every_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let text = b"all work and no play ".repeat(1000);
    put(&data, "a.json", &text);
    let zip = tmp.path().join("out.zip");
    write_zip_level(&data, &zip, 0, &Cancel::new()).unwrap();
    let mut z = zip::ZipArchive::new(File::open(&zip).unwrap()).unwrap();
    assert_eq!(
        z.by_name("a.json").unwrap().compression(),
        zip::CompressionMethod::Stored
    );
    let fast = tmp.path().join("fast.zip");
    write_zip_level(&data, &fast, 1, &Cancel::new()).unwrap();
    assert_eq!(read_all(&fast)["a.json"], text);
    assert!(std::fs::metadata(&fast).unwrap().len() < 2000);
}

#[test]
fn a_broken_previous_zip_is_replaced_by_a_fresh_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    put(&data, "users/u.json", b"{\"id\":\"u\"}");
    let zip = tmp.path().join("out.zip");
    std::fs::write(&zip, b"PK\x03\x04 this is not a zip at all, just bytes").unwrap();
    let s = write_zip(&data, &zip, &Cancel::new()).unwrap();
    assert_eq!((s.files, s.reused), (1, 0));
    assert_eq!(read_all(&zip)["users/u.json"], b"{\"id\":\"u\"}");
}

#[test]
fn more_than_65535_entries_get_zip64_records() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for d in 0..70 {
        let dir = data.join(format!("d{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..1000 {
            std::fs::write(dir.join(format!("{f:04}.json")), f.to_string()).unwrap();
        }
    }
    let zip = tmp.path().join("out.zip");
    write_zip(&data, &zip, &Cancel::new()).unwrap();
    let z = zip::ZipArchive::new(File::open(&zip).unwrap()).unwrap();
    assert_eq!(z.len(), 70_070);
    let s = write_zip(&data, &zip, &Cancel::new()).unwrap();
    assert_eq!(s.reused, 70_000, "the ZIP64 directory is read back too");
    let mut z = zip::ZipArchive::new(File::open(&zip).unwrap()).unwrap();
    let mut v = String::new();
    z.by_name("d69/0999.json")
        .unwrap()
        .read_to_string(&mut v)
        .unwrap();
    assert_eq!(v, "999");
}

/// Where the data of the entry `name` starts in `zip`, and its compressed length.
fn data_of(zip: &Path, name: &str) -> (u64, u64) {
    let mut z = zip::ZipArchive::new(File::open(zip).unwrap()).unwrap();
    let e = z.by_name(name).unwrap();
    (e.data_start(), e.compressed_size())
}

fn flip(zip: &Path, at: u64) {
    let mut b = std::fs::read(zip).unwrap();
    b[at as usize] ^= 0x55;
    std::fs::write(zip, b).unwrap();
}

/// A data dir of JSON files written an hour ago (their times are trusted).
fn aged_data(root: &Path) -> PathBuf {
    let data = root.join("data");
    for (n, word) in [
        ("a.json", "alpha"),
        ("m/b.json", "bravo"),
        ("z.json", "zulu"),
    ] {
        put(
            &data,
            n,
            format!("{{\"text\":\"{}\"}}", word.repeat(200)).as_bytes(),
        );
    }
    age(
        &data,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    data
}

#[test]
fn a_damaged_entry_of_the_previous_zip_is_compressed_afresh_not_carried_forward() {
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    write_zip(&data, &zip, &cancel).unwrap();
    let good = read_all(&zip);
    // One flipped byte inside the deflated data of the first entry, then of the last (whose
    // copy is dropped at the end of the zip: the file is cut there).
    for name in ["a.json", "z.json"] {
        let (start, comp) = data_of(&zip, name);
        flip(&zip, start + comp / 2);
        assert!(!check_zip(&zip, &data).problems.is_empty());
        let s = write_zip(&data, &zip, &cancel).unwrap();
        assert_eq!((s.kept, s.damaged, s.reused), (false, 1, 2), "{name}");
        assert_eq!(read_all(&zip), good);
        let c = check_zip(&zip, &data);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.entries, 4);
        assert!(write_zip(&data, &zip, &cancel).unwrap().kept);
    }
}

#[test]
fn a_kept_zip_is_checked_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    write_zip(&data, &zip, &cancel).unwrap();
    let first = std::fs::read(&zip).unwrap();
    // A flipped byte in a local header's time, or junk after the end: not kept as it is.
    for damage in [10usize, first.len()] {
        let mut b = first.clone();
        if damage < b.len() {
            b[damage] ^= 1;
        } else {
            b.extend_from_slice(b"junk");
        }
        std::fs::write(&zip, &b).unwrap();
        let s = write_zip(&data, &zip, &cancel).unwrap();
        assert!(!s.kept, "damage at {damage}");
        assert_eq!(std::fs::read(&zip).unwrap(), first);
    }
}

#[test]
fn a_truncated_or_unreadable_previous_zip_never_blocks_the_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    write_zip(&data, &zip, &cancel).unwrap();
    let good = read_all(&zip);
    let first = std::fs::read(&zip).unwrap();
    // Cut in half; then a broken local header where the directory points.
    std::fs::write(&zip, &first[..first.len() / 2]).unwrap();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.reused, s.files), (0, 3));
    assert_eq!(read_all(&zip), good);
    let (start, _) = data_of(&zip, "a.json");
    let header = start - 30 - "a.json".len() as u64;
    let mut b = std::fs::read(&zip).unwrap();
    b[header as usize..header as usize + 4].copy_from_slice(b"XXXX");
    std::fs::write(&zip, &b).unwrap();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.reused, s.files, s.kept), (0, 3, false));
    assert_eq!(read_all(&zip), good);
}

#[cfg(unix)]
#[test]
fn links_inside_the_data_dir_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    put(&data, "c/p.json", b"{}");
    put(tmp.path(), "outside/secret.txt", b"secret");
    std::os::unix::fs::symlink(tmp.path().join("outside/secret.txt"), data.join("c/l.json"))
        .unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside"), data.join("users")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", data.join("c/z.json")).unwrap();
    // The data dir and the zip may be links themselves.
    let real = tmp.path().join("real.zip");
    std::fs::write(&real, b"").unwrap();
    let zip = tmp.path().join("out.zip");
    std::os::unix::fs::symlink(&real, &zip).unwrap();
    let via = tmp.path().join("via");
    std::os::unix::fs::symlink(&data, &via).unwrap();
    for _ in 0..2 {
        write_zip(&via, &zip, &Cancel::new()).unwrap();
        let got = read_all(&zip);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            ["c/", "c/p.json"],
            "links are left out"
        );
        assert!(std::fs::symlink_metadata(&zip)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(check_zip(&zip, &via).problems.is_empty());
    }
}

#[test]
fn verify_names_what_the_zip_lacks_and_what_it_has_too_many() {
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    let zip = tmp.path().join("out.zip");
    write_zip(&data, &zip, &Cancel::new()).unwrap();
    put(&data, "new.json", b"{}");
    std::fs::remove_file(data.join("z.json")).unwrap();
    let c = check_zip(&zip, &data);
    assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
    assert!(c.problems[0].contains("new.json is in the data dir but not in the zip"));
    assert!(c.problems[1].contains("z.json is in the zip but not in the data dir"));
    std::fs::write(&zip, b"garbage").unwrap();
    let c = check_zip(&zip, &data);
    assert!(
        c.problems[0].contains("not a readable zip"),
        "{:?}",
        c.problems
    );
}

#[test]
fn a_damaged_stored_entry_is_found_too() {
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    let pic: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    put(&data, "m/files/f__pic.png", &pic);
    age(
        &data,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    write_zip(&data, &zip, &cancel).unwrap();
    let (start, comp) = data_of(&zip, "m/files/f__pic.png");
    assert_eq!(comp, pic.len() as u64, "stored");
    flip(&zip, start + 5000);
    let c = check_zip(&zip, &data);
    assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
    assert!(c.problems[0].contains("m/files/f__pic.png is damaged"));
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.kept, s.damaged, s.reused), (false, 1, 3));
    assert_eq!(read_all(&zip)["m/files/f__pic.png"], pic);
}

#[test]
fn a_damaged_claim_in_the_central_directory_is_found_by_the_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    let zip = tmp.path().join("out.zip");
    let cancel = Cancel::new();
    write_zip(&data, &zip, &cancel).unwrap();
    let good = read_all(&zip);
    let mut b = std::fs::read(&zip).unwrap();
    let rec = (0..b.len() - 52)
        .find(|&i| b[i..i + 4] == *b"PK\x01\x02" && b[i + 46..i + 52] == *b"a.json")
        .unwrap();
    b[rec + 16] ^= 1; // its CRC-32
    std::fs::write(&zip, &b).unwrap();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.kept, s.damaged, s.reused), (false, 1, 2));
    assert_eq!(read_all(&zip), good);
    assert!(write_zip(&data, &zip, &cancel).unwrap().kept);
}

#[test]
fn a_zip_without_checksums_is_checked_by_inflating_and_written_again_once() {
    use zip::write::SimpleFileOptions;
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    // A zip of another tool (the original's, say): no times, no checksums; one entry damaged.
    let zip = tmp.path().join("out.zip");
    let mut w = zip::ZipWriter::new(File::create(&zip).unwrap());
    for name in ["a.json", "m/b.json", "z.json"] {
        let opts =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file(name, opts).unwrap();
        w.write_all(&std::fs::read(data.join(name)).unwrap())
            .unwrap();
    }
    w.finish().unwrap();
    let (start, comp) = data_of(&zip, "m/b.json");
    flip(&zip, start + comp / 2);
    let cancel = Cancel::new();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!((s.kept, s.damaged, s.reused), (false, 1, 2));
    assert!(check_zip(&zip, &data).problems.is_empty());
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert!(s.kept, "now with checksums");
}

#[cfg(unix)]
#[test]
fn an_output_link_to_a_zip_not_written_yet_is_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = aged_data(tmp.path());
    std::fs::create_dir(tmp.path().join("big")).unwrap();
    let zip = tmp.path().join("out.zip");
    std::os::unix::fs::symlink("big/real.zip", &zip).unwrap();
    write_zip(&data, &zip, &Cancel::new()).unwrap();
    assert!(std::fs::symlink_metadata(&zip)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(read_all(&tmp.path().join("big/real.zip")).len(), 4);
}

/// A data dir of entries of every kind the writer treats apart: empty, tiny (stored), small
/// JSON, incompressible data (stored after its sample), media (stored by name), text larger
/// than a worker's piece, and more small files than the writer plans ahead; written an hour ago.
fn varied_data(root: &Path) -> PathBuf {
    let data = root.join("data");
    put(&data, "empty.json", b"");
    put(&data, "tiny.json", b"{}");
    put(&data, "exactly64.json", &[b'a'; 64]);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..1_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    put(&data, "files/noise.bin", &noise);
    put(&data, "files/photo.jpg", &noise[..300_000]);
    put(&data, "files/small-noise.txt", &noise[..1000]);
    let text: Vec<u8> = (0..60_000u32)
        .flat_map(|i| format!("line {i} of the text, {}\n", i % 97).into_bytes())
        .collect();
    put(&data, "files/big.txt", &text);
    // Mostly text, with a stretch of noise inside: deflated, larger than what a worker holds
    // of an entry before the writer takes it.
    assert!(noise.len() as u64 > fresh::MAX_HELD);
    put(
        &data,
        "files/mixed.txt",
        &[&text[..200_000], &noise, &text[..]].concat(),
    );
    for i in 0..700 {
        let n = format!("c/{:02}/{i:04}.json", i % 7);
        put(
            &data,
            &n,
            format!("{{\"id\":{i},\"message\":\"{}\"}}", "post ".repeat(i % 50)).as_bytes(),
        );
    }
    age(
        &data,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    data
}

#[test]
fn the_zip_is_the_same_byte_for_byte_whatever_the_number_of_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let data = varied_data(tmp.path());
    let cancel = Cancel::new();
    for level in [0, DEFAULT_LEVEL, 9] {
        let one = tmp.path().join(format!("one-{level}.zip"));
        write_zip_threads(&data, &one, level, 1, &cancel).unwrap();
        let want = std::fs::read(&one).unwrap();
        assert_eq!(read_all(&one).len(), 708 + 9);
        for threads in [2, 8] {
            let z = tmp.path().join(format!("{threads}-{level}.zip"));
            let s = write_zip_threads(&data, &z, level, threads, &cancel).unwrap();
            assert_eq!((s.files, s.reused), (708, 0));
            assert!(
                std::fs::read(&z).unwrap() == want,
                "level {level}, {threads} threads: not the zip of one thread"
            );
        }
    }
}

#[test]
fn a_rezip_with_changes_and_damage_is_the_same_whatever_the_number_of_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let data = varied_data(tmp.path());
    // Every file is older than every zip's start: a file modified in the second a zip starts
    // gets no trusted time in it (`stamp`), so a zip started a second later (a busy machine)
    // would record one, and the zips would differ by the clock, not by the threads.
    let ago = |s| std::time::SystemTime::now() - std::time::Duration::from_secs(s);
    backdate(&data, ago(3600));
    let cancel = Cancel::new();
    let base = tmp.path().join("base.zip");
    write_zip_threads(&data, &base, DEFAULT_LEVEL, 1, &cancel).unwrap();
    // Changed files (one with a new time only), a new one, and a damaged entry in the copy.
    put(
        &data,
        "c/03/0003.json",
        b"{\"id\":3,\"message\":\"edited\"}",
    );
    put(&data, "c/05/new.json", b"{\"id\":\"new\"}");
    for f in ["c/03/0003.json", "c/05/new.json"] {
        File::options()
            .append(true)
            .open(data.join(f))
            .unwrap()
            .set_modified(ago(120))
            .unwrap();
    }
    File::options()
        .append(true)
        .open(data.join("files/big.txt"))
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
    let (start, comp) = data_of(&base, "c/06/0006.json");
    flip(&base, start + comp / 2);
    let mut zips = Vec::new();
    for threads in [1, 2, 4] {
        let z = tmp.path().join(format!("{threads}.zip"));
        std::fs::copy(&base, &z).unwrap();
        let s = write_zip_threads(&data, &z, DEFAULT_LEVEL, threads, &cancel).unwrap();
        assert_eq!((s.files, s.damaged), (709, 1), "{threads} threads");
        // Every file but the edited, the new and the damaged one is copied (the one with a new
        // time, by its CRC-32).
        assert_eq!(s.reused, 706, "{threads} threads");
        zips.push(std::fs::read(&z).unwrap());
    }
    assert!(zips.iter().all(|z| *z == zips[0]));
    let c = check_zip(&tmp.path().join("4.zip"), &data);
    assert!(c.problems.is_empty(), "{:?}", c.problems);
}

#[test]
fn a_zip_written_inside_the_data_dir_is_not_zipped_into_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    put(&data, "a/x.json", b"{\"id\":\"x\"}");
    // The output named through a detour (`a/..`): the same file all the same.
    let zip = data.join("a").join("..").join("backup.zip");
    let cancel = Cancel::new();
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!(s.files, 1);
    // Again with the zip there: as a file of the data dir it would be entry 2.
    put(&data, "a/y.json", b"{\"id\":\"y\"}");
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert_eq!(s.files, 2);
    let names: Vec<String> = read_all(&zip).into_keys().collect();
    assert_eq!(names, ["a/", "a/x.json", "a/y.json"]);
    // And the no-change path (`unchanged`) skips it too: the zip is kept.
    let s = write_zip(&data, &zip, &cancel).unwrap();
    assert!(s.kept, "nothing changed but the zip itself");
}
