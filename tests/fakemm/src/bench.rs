//! `fakemm bench-requests`: the request-budget benchmark of matterbak.
//!
//! Runs the matterbak binary against a generated data set in three scenarios (full backup,
//! rerun without changes, rerun after scattered changes) and prints, per endpoint, the requests
//! it made beside the minimum the data set needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fakemm::{FakeServer, Scale, World};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PER_PAGE: u64 = 200;

/// Pages of a list endpoint that stops at the first short page.
fn list_pages(n: u64) -> u64 {
    n / PER_PAGE + 1
}

/// Pages of posts: `prev_post_id` is empty on a short page, so no trailing empty request.
fn post_pages(n: u64) -> u64 {
    n.div_ceil(PER_PAGE).max(1)
}

type Counts = BTreeMap<String, u64>;

/// What the data set needs: the minimum requests of a full backup and of a rerun.
struct Needs {
    full: Counts,
    rerun: Counts,
}

fn needs(w: &World, me: &str) -> Needs {
    let channels = w.member_channels(me);
    let meid = w.user(me).expect("alice").id;
    let teams: Vec<_> = w
        .teams
        .values()
        .filter(|t| t.delete_at == 0 && t.members.get(&meid).is_some_and(|m| m.delete_at == 0))
        .collect();
    let mut users: BTreeSet<String> = BTreeSet::from([me.to_string()]);
    let (mut posts, mut members, mut files) = (0, 0, 0);
    for c in &channels {
        let ch = w.channel(c).expect("channel");
        members += list_pages(ch.members.len() as u64);
        users.extend(ch.members.keys().map(|u| u.to_string()));
        let live = w.live_posts(c);
        posts += post_pages(live.len() as u64);
        for p in &live {
            let post = w.post(p).expect("post");
            users.insert(post.user_id.to_string());
            if let Some(rs) = w.reactions.get(&post.id) {
                users.extend(rs.iter().map(|r| r.user_id.to_string()));
            }
            files += post
                .file_ids
                .iter()
                .filter(|f| w.file(&f.to_string()).is_some_and(|f| f.delete_at == 0))
                .count() as u64;
        }
    }
    let mut team_members = 0;
    for t in &teams {
        let active: Vec<_> = t.members.values().filter(|m| m.delete_at == 0).collect();
        team_members += list_pages(active.len() as u64);
        users.extend(active.iter().map(|m| m.user_id.to_string()));
    }
    let users = users.iter().filter(|u| w.user(u).is_some()).count() as u64;
    let emojis = w.emojis.values().filter(|e| e.delete_at == 0).count() as u64;
    let icons = teams.iter().filter(|t| t.last_team_icon_update > 0).count() as u64;
    let c = |k: &str, n: u64| (k.to_string(), n);
    let base = [
        c("POST /api/v4/users/login", 1),
        c("POST /api/v4/users/logout", 1),
        c("GET /api/v4/users/{user_id}/teams", 1),
        c("GET /api/v4/users/{user_id}/channels", 1),
        c("POST /api/v4/users/ids", users.div_ceil(5000)),
        c("GET /api/v4/emoji", list_pages(emojis)),
    ];
    let mut full: Counts = base.iter().cloned().collect();
    full.extend([
        c("GET /api/v4/channels/{channel_id}/posts", posts),
        c("GET /api/v4/channels/{channel_id}/members", members),
        c("GET /api/v4/teams/{team_id}/members", team_members),
        c("GET /api/v4/users/{user_id}/image", users),
        c("GET /api/v4/emoji/{emoji_id}/image", emojis),
        c("GET /api/v4/teams/{team_id}/image", icons),
        c("GET /api/v4/files/{file_id}", files),
    ]);
    let mut rerun: Counts = base.iter().cloned().collect();
    rerun.insert(
        "GET /api/v4/channels/{channel_id}/posts".into(),
        channels.len() as u64,
    );
    Needs { full, rerun }
}

/// Scattered changes: edits, reactions, new posts and new posts with an attachment.
/// Returns how many attachments were added.
fn scatter_changes(w: &mut World, me: &str, n: usize, seed: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0c4a_96e5);
    let channels = w.member_channels(me);
    let posts: Vec<(String, String)> = channels
        .iter()
        .flat_map(|c| {
            w.live_posts(c)
                .into_iter()
                .filter(|p| w.post(p).is_some_and(|p| p.post_type.is_empty()))
                .map(move |p| (c.clone(), p))
        })
        .collect();
    let mut files = 0;
    for i in 0..n {
        let (c, p) = posts[rng.random_range(0..posts.len())].clone();
        match i % 10 {
            0..=5 => {
                let _ = w.edit_post(&p, &format!("edited #{i}"));
            }
            6 | 7 => {
                let _ = w.add_reaction(&p, me, "heart");
            }
            8 => {
                let _ = w.add_post(&c, me, &format!("new post #{i}"), None, vec![]);
            }
            _ => {
                let _ = w.add_post(
                    &c,
                    me,
                    &format!("new file #{i}"),
                    None,
                    vec![(format!("bench-{i}.txt"), "text/plain".into(), 2048)],
                );
                files += 1;
            }
        }
    }
    files
}

fn run_matterbak(bin: &Path, dir: &Path) -> Result<f64> {
    let start = Instant::now();
    let out = Command::new(bin)
        .current_dir(dir)
        .args([
            "--credentials",
            "credentials.json",
            "--channels",
            "channels.json",
            "-d",
            "data",
            "-o",
            "out.zip",
            "--rate-limit",
            "0",
        ])
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "matterbak failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(start.elapsed().as_secs_f64())
}

fn print_table(title: &str, secs: f64, made: &Counts, minimum: &Counts) {
    let total: u64 = made.values().sum();
    let min_total: u64 = minimum.values().sum();
    println!(
        "\n{title}: {total} requests in {secs:.1} s (minimum {min_total}, {:+.1}%)",
        (total as f64 / min_total.max(1) as f64 - 1.0) * 100.0
    );
    println!("  {:<52} {:>8} {:>8}", "endpoint", "made", "minimum");
    let keys: BTreeSet<&String> = made.keys().chain(minimum.keys()).collect();
    for k in keys {
        let (m, n) = (
            made.get(k).copied().unwrap_or(0),
            minimum.get(k).copied().unwrap_or(0),
        );
        if m + n > 0 {
            println!("  {k:<52} {m:>8} {n:>8}");
        }
    }
    println!("  {:<52} {total:>8} {min_total:>8}", "total");
}

/// Runs the benchmark and prints its tables.
pub fn run(
    matterbak: PathBuf,
    seed: u64,
    scale: Scale,
    changes: usize,
    work: Option<PathBuf>,
) -> Result<()> {
    let matterbak = std::path::absolute(&matterbak)?;
    if !matterbak.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release --workspace)",
            matterbak.display()
        );
    }
    let world = World::generate(seed, scale);
    let channels_json = world.sample_channels_json();
    let server = FakeServer::start(world);
    let tmp;
    let dir = match work {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            tmp = tempfile_dir()?;
            tmp.clone()
        }
    };
    let creds = serde_json::json!({"user": "alice", "password": "alice-password", "url": format!("{}/api", server.base_url())});
    std::fs::write(dir.join("credentials.json"), creds.to_string())?;
    set_private(&dir.join("credentials.json"))?;
    std::fs::write(dir.join("channels.json"), channels_json.to_string())?;
    let me = server.with_world(|w| w.user_by_name("alice").expect("alice").id.to_string());
    let needs = server.with_world(|w| needs(w, &me));
    println!("matterbak request budget on the {scale:?} data set (seed {seed}), password login");

    server.reset_counts();
    let secs = run_matterbak(&matterbak, &dir)?;
    print_table("full backup", secs, &server.request_counts(), &needs.full);

    server.reset_counts();
    let secs = run_matterbak(&matterbak, &dir)?;
    print_table(
        "rerun without changes",
        secs,
        &server.request_counts(),
        &needs.rerun,
    );

    let files = server.with_world(|w| scatter_changes(w, &me, changes, seed));
    let mut minimum = needs.rerun.clone();
    minimum.insert("GET /api/v4/files/{file_id}".into(), files);
    server.reset_counts();
    let secs = run_matterbak(&matterbak, &dir)?;
    print_table(
        &format!("rerun after {changes} scattered changes"),
        secs,
        &server.request_counts(),
        &minimum,
    );

    // Imports: posts with an old create_at (update_at = create_at), invisible to `since`;
    // the minimum is still the rerun's (a client that trusts `since` makes no more, and
    // misses them).
    let imports = (changes / 10).max(1);
    server.with_world(|w| import_posts(w, &me, imports, seed));
    server.reset_counts();
    let secs = run_matterbak(&matterbak, &dir)?;
    print_table(
        &format!("rerun after {imports} imported posts with old timestamps"),
        secs,
        &server.request_counts(),
        &needs.rerun,
    );
    Ok(())
}

/// `n` posts imported with an old `create_at` at random places of random channels.
fn import_posts(w: &mut World, me: &str, n: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1a2b_3c4d);
    let channels: Vec<String> = w
        .member_channels(me)
        .into_iter()
        .filter(|c| w.live_posts(c).len() > 1)
        .collect();
    for i in 0..n {
        let c = &channels[rng.random_range(0..channels.len())];
        let live = w.live_posts(c);
        let p = &live[rng.random_range(0..live.len())];
        let t = w.post(p).map_or(0, |p| p.create_at) - 1;
        let _ = w.import_post(c, me, &format!("imported #{i}"), None, t);
    }
}

pub(crate) fn tempfile_dir() -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("fakemm-bench-{}", std::process::id()));
    if d.exists() {
        std::fs::remove_dir_all(&d)?;
    }
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

pub(crate) fn set_private(p: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
