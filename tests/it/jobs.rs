//! Issue 15 ("Fast over a real network"), item 1: several channels walked at the same time
//! (`--jobs`), under the one rate limiter, give the backup that one at a time gives.

use std::collections::BTreeSet;

use fakemm::{Faults, Scale};

use crate::util::{text, tree, verify, Env};

const POSTS: &str = "GET /api/v4/channels/{channel_id}/posts";

/// The lines that report a finished channel ("<label>: N posts read (...)").
fn channel_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(" posts read ("))
        .map(|l| {
            l.split_once(" INFO ")
                .map_or(l, |(_, m)| m)
                .trim()
                .to_string()
        })
        .collect()
}

/// The entries of a zip in their order: name, method, bytes.
fn zip_entries(path: &std::path::Path) -> Vec<(String, u16, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut e = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
            let method = if e.compression() == zip::CompressionMethod::Stored {
                0
            } else {
                8
            };
            (e.name().to_string(), method, bytes)
        })
        .collect()
}

#[test]
fn issue15_channels_walked_at_once_give_the_same_data_state_and_zip_as_one_at_a_time() {
    let env = Env::new(Scale::Tiny);
    // A server 20 ms away: requests of several channels overlap only if they are sent
    // together.
    env.server.set_faults(Faults {
        latency_ms: Some((20, 20)),
        ..Faults::default()
    });
    let one = env.run_ok(&["--jobs", "1"]);
    let one_peak = env.server.peak_in_flight()[POSTS];
    let one_requests = env.server.request_counts()[POSTS];
    let one_tree = tree(&env.data());
    let one_zip = zip_entries(&env.zip());
    std::fs::remove_dir_all(env.data()).unwrap();
    std::fs::remove_file(env.zip()).unwrap();
    env.server.reset_counts();

    let many = env.run_ok(&["--jobs", "8"]);
    let many_peak = env.server.peak_in_flight()[POSTS];
    assert_eq!(
        one_peak, 1,
        "one channel at a time: one page request at a time"
    );
    assert!(
        many_peak >= 2,
        "--jobs 8 walks several channels at once: at most {many_peak} page request(s) were in flight"
    );
    assert_eq!(env.server.request_counts()[POSTS], one_requests);

    // The same files with the same bytes, the state file included, and the same zip.
    let many_tree = tree(&env.data());
    let names = |t: &std::collections::BTreeMap<String, Vec<u8>>| {
        t.keys()
            .filter(|k| k.as_str() != ".matterbak.lock")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&one_tree), names(&many_tree));
    for (k, v) in one_tree
        .iter()
        .filter(|(k, _)| k.as_str() != ".matterbak.lock")
    {
        assert!(
            &many_tree[k] == v,
            "{k} differs between --jobs 1 and --jobs 8"
        );
    }
    assert!(one_tree.contains_key(".matterbak-state.json"));
    // (The entries carry the files' mtimes, which differ from run to run anyway.)
    let many_zip = zip_entries(&env.zip());
    assert_eq!(
        one_zip.iter().map(|e| &e.0).collect::<Vec<_>>(),
        many_zip.iter().map(|e| &e.0).collect::<Vec<_>>(),
        "the zips list other entries or another order"
    );
    assert!(one_zip == many_zip, "the zips' entries differ");

    // One line per finished channel, whole, whatever the order they end in.
    let (a, b) = (channel_lines(&one), channel_lines(&many));
    assert!(a.len() > 3, "{}", text(&one));
    assert_eq!(a.len(), b.len(), "{}", text(&many));
    assert_eq!(
        a.iter().collect::<BTreeSet<_>>(),
        b.iter().collect::<BTreeSet<_>>(),
        "{}",
        text(&many)
    );
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
}

/// Attachments of the channels walked at once share one pool of `--jobs` downloads (a channel
/// with none in flight may always start one, so at most `jobs + jobs - 1`).
#[test]
fn issue15_downloads_of_all_channels_share_one_pool() {
    const FILES: &str = "GET /api/v4/files/{file_id}";
    let env = Env::new(Scale::Tiny);
    env.server.set_faults(Faults {
        latency_ms: Some((20, 20)),
        ..Faults::default()
    });
    env.run_ok(&["--jobs", "2", "--skip-users", "--skip-emojis"]);
    let peak = env.server.peak_in_flight();
    let files = peak.get(FILES).copied().unwrap_or(0);
    assert!(
        env.server.request_counts().get(FILES).copied().unwrap_or(0) > 10,
        "the data set has attachments to download"
    );
    assert!(files >= 2, "downloads overlap: peak {files}");
    assert!(
        files <= 3,
        "--jobs 2: at most 3 downloads at once, not {files}"
    );
    assert!(
        peak[POSTS] <= 2,
        "--jobs 2: {} page requests at once",
        peak[POSTS]
    );
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
}
