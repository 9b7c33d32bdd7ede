//! `fakemm bench`: the speed and memory benchmark of matterbak (issue 7).
//!
//! Serves a generated data set in process and runs, one after the other and each measured with
//! `wait4`: matterbak's full backup and its no-change rerun at `--rate-limit 0`, its zip step
//! alone (fresh on one thread and on every core, then with the previous zip present, and with
//! one new file), every export from the data dir and from the zip (issue 15), optionally a full
//! backup at
//! `--rate-limit 10`, and the original Python matterbak 0.5.2 (from PyPI, in a venv) against the
//! same server and data. Prints one Markdown table with a PASS/FAIL column against the issue's
//! targets. The fake server's own CPU seconds are rows too, to show whether it is the
//! bottleneck. Exits non-zero only when a run fails, not when a target is missed.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Result};
use fakemm::{FakeServer, Scale, World};

use crate::bench::{set_private, tempfile_dir};
use crate::measure::{self, Usage};

/// Peak RSS target of every matterbak row.
const RSS_TARGET: u64 = 64 << 20;
const MIB: f64 = (1u64 << 20) as f64;
/// The original from PyPI.
const ORIGINAL: &str = "matterbak==0.5.2";

/// Options of `fakemm bench`.
pub struct Opts {
    pub matterbak: PathBuf,
    pub seed: u64,
    pub scale: Scale,
    pub with_rate_limit: bool,
    pub no_original: bool,
    /// Where the original's venv is (created when missing).
    pub venv: Option<PathBuf>,
    pub work_dir: Option<PathBuf>,
    /// Extra options of every matterbak backup run.
    pub extra: Vec<String>,
}

/// One measured run: the child's usage, the server's counters and its CPU meanwhile.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Run {
    pub(crate) usage: Usage,
    pub(crate) requests: u64,
    bytes: u64,
    server_cpu: f64,
}

/// A line of the table; empty cells are `None`.
#[derive(Default)]
pub(crate) struct Row {
    step: String,
    wall: Option<f64>,
    cpu: Option<f64>,
    requests: Option<u64>,
    bytes: Option<u64>,
    rss: Option<u64>,
    target: String,
    pub(crate) pass: Option<bool>,
}

impl Row {
    pub(crate) fn run(step: &str, r: &Run) -> Row {
        Row {
            step: step.into(),
            wall: Some(r.usage.wall),
            cpu: Some(r.usage.cpu),
            requests: Some(r.requests),
            bytes: Some(r.bytes),
            rss: Some(r.usage.max_rss),
            ..Row::default()
        }
    }
    /// A matterbak row: peak RSS under 64 MiB.
    pub(crate) fn matterbak(step: &str, r: &Run) -> Row {
        Row {
            target: "RSS < 64 MiB".into(),
            pass: Some(r.usage.max_rss < RSS_TARGET),
            ..Row::run(step, r)
        }
    }
    /// The fake server's CPU during `r`, and whether it kept below half a core.
    fn server(step: &str, r: &Run) -> Row {
        let cores = r.server_cpu / r.usage.wall.max(1e-9);
        Row {
            step: step.into(),
            cpu: Some(r.server_cpu),
            target: format!("{cores:.2} cores busy (< 0.5: not the bottleneck)"),
            pass: Some(cores < 0.5),
            ..Row::default()
        }
    }
    pub(crate) fn ratio(step: &str, target: String, pass: Option<bool>) -> Row {
        Row {
            step: step.into(),
            target,
            pass,
            ..Row::default()
        }
    }
}

pub(crate) fn print_table(rows: &[Row]) -> String {
    let head = [
        "step",
        "wall s",
        "CPU s",
        "requests",
        "MB served",
        "peak RSS MiB",
        "target / figure",
        "result",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let f = |v: Option<f64>, p: usize| v.map_or(String::new(), |v| format!("{v:.p$}"));
            [
                r.step.clone(),
                f(r.wall, 2),
                f(r.cpu, 2),
                r.requests.map_or(String::new(), |n| n.to_string()),
                f(r.bytes.map(|b| b as f64 / 1e6), 1),
                f(r.rss.map(|b| b as f64 / MIB), 1),
                r.target.clone(),
                match r.pass {
                    Some(true) => "PASS".into(),
                    Some(false) => "FAIL".into(),
                    None => String::new(),
                },
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[String]| {
        out.push('|');
        for (i, (s, w)) in c.iter().zip(width).enumerate() {
            let pad = w - s.chars().count();
            // Text left, figures right.
            if i == 0 || i >= 6 {
                let _ = write!(out, " {s}{} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {}{s} |", " ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(&mut out, &head.map(String::from));
    line(&mut out, &width.map(|w| "-".repeat(w)));
    for c in &cells {
        line(&mut out, c);
    }
    out
}

/// The data set's shape, to check it against the issue's.
pub(crate) fn describe(w: &World) -> String {
    let live: usize = w.channels.values().map(|c| c.live.len()).sum();
    let biggest = w.channels.values().map(|c| c.live.len()).max().unwrap_or(0);
    let files: Vec<u64> = w
        .files
        .values()
        .filter(|f| f.delete_at == 0)
        .map(|f| f.size)
        .collect();
    let huge = files.iter().filter(|s| **s >= 100_000_000).count();
    let small = files.iter().filter(|s| **s < 100_000_000);
    let (lo, hi) = (
        small.clone().min().copied().unwrap_or(0),
        small.max().copied().unwrap_or(0),
    );
    let total: u64 = files.iter().sum();
    format!(
        "{} posts ({live} live, largest channel {biggest}), {} attachments ({} of {lo} B to {hi} B, \
         {huge} of 100 MB or more; {:.0} MB in all), {} users, {} custom emojis",
        w.posts.len(),
        files.len(),
        files.len() - huge,
        total as f64 / 1e6,
        w.users.len(),
        w.emojis.values().filter(|e| e.delete_at == 0).count(),
    )
}

/// Runs a program in `dir` with its output in `dir/<log>.log`, measured, with the server's
/// counters reset before; fails with the log's tail when it fails.
pub(crate) fn measured(
    server: &FakeServer,
    dir: &Path,
    log: &str,
    prog: &Path,
    args: &[String],
) -> Result<Run> {
    let log_path = dir.join(format!("{log}.log"));
    let out = File::create(&log_path)?;
    let usage_file = dir.join(format!(".{log}.usage"));
    server.reset_counts();
    let cpu0 = measure::self_cpu();
    let (status, usage) = measure::run_measured(prog, args, dir, out, &usage_file)?;
    let server_cpu = measure::self_cpu() - cpu0;
    if !status.success() {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        bail!(
            "{} {} failed ({status}); the end of {}:\n{}",
            prog.display(),
            args.join(" "),
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(Run {
        usage,
        requests: server.total_requests(),
        bytes: server.bytes_served(),
        server_cpu,
    })
}

/// Every export (html; md; hgf of the channel with the most posts; jsonl) of the backup in
/// `mb`, from the data dir and from the zip: a row each, peak RSS under 64 MiB. What they write
/// is removed after each.
fn export_rows(server: &FakeServer, mb: &Path, matterbak: &Path) -> Result<Vec<Row>> {
    let channel = largest_channel(&mb.join("data"))?;
    let mut rows = Vec::new();
    for (src, from) in [("data", "data dir"), ("backup.zip", "zip")] {
        for (what, args) in [
            (
                "html",
                vec!["export", "html", "-d", src, "-o", "export-site"],
            ),
            ("md", vec!["export", "md", "-d", src, "-o", "export.md"]),
            (
                "hgf (largest channel)",
                vec![
                    "export",
                    "hgf",
                    "-d",
                    src,
                    "-c",
                    &channel,
                    "-o",
                    "export-hgf.zip",
                ],
            ),
            (
                "jsonl",
                vec!["export", "jsonl", src, "-o", "export-jsonl/matter.jsonl"],
            ),
        ] {
            std::fs::create_dir_all(mb.join("export-jsonl"))?;
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let log = format!("export-{}-{src}", what.split(' ').next().unwrap_or(what));
            let r = measured(server, mb, &log, matterbak, &args)?;
            rows.push(Row::matterbak(
                &format!("matterbak export {what}, from the {from}"),
                &r,
            ));
            let _ = std::fs::remove_dir_all(mb.join("export-site"));
            let _ = std::fs::remove_dir_all(mb.join("export-jsonl"));
            let _ = std::fs::remove_file(mb.join("export.md"));
            let _ = std::fs::remove_file(mb.join("export-hgf.zip"));
        }
    }
    Ok(rows)
}

/// The folder (relative to `data`) of the channel with the most files in it.
fn largest_channel(data: &Path) -> Result<String> {
    let mut best = (0, String::new());
    let mut parents = vec!["direct".to_string(), "groups".to_string()];
    for t in std::fs::read_dir(data.join("teams"))? {
        let t = t?;
        if t.file_type()?.is_dir() {
            parents.push(format!("teams/{}", t.file_name().to_string_lossy()));
        }
    }
    for p in parents {
        let Ok(dirs) = std::fs::read_dir(data.join(&p)) else {
            continue;
        };
        for c in dirs {
            let c = c?;
            if c.file_type()?.is_dir() {
                let n = std::fs::read_dir(c.path())?.count();
                if n > best.0 {
                    best = (n, format!("{p}/{}", c.file_name().to_string_lossy()));
                }
            }
        }
    }
    if best.1.is_empty() {
        bail!("no channel folder in {}", data.display());
    }
    Ok(best.1)
}

/// Do the files at `a` and `b` hold the same bytes?
fn same_files(a: &Path, b: &Path) -> Result<bool> {
    use std::io::Read;
    let (mut a, mut b) = (File::open(a)?, File::open(b)?);
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// A directory with credentials.json and channels.json for `server`.
pub(crate) fn client_dir(
    dir: &Path,
    server: &FakeServer,
    channels: &serde_json::Value,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let creds = serde_json::json!({
        "user": "alice", "password": "alice-password", "url": format!("{}/api", server.base_url())
    });
    std::fs::write(dir.join("credentials.json"), creds.to_string())?;
    set_private(&dir.join("credentials.json"))?;
    std::fs::write(dir.join("channels.json"), channels.to_string())?;
    Ok(dir.to_path_buf())
}

pub(crate) fn backup_args(
    data: &str,
    zip: Option<&str>,
    rate: &str,
    extra: &[String],
) -> Vec<String> {
    let mut a: Vec<String> = [
        "--credentials",
        "credentials.json",
        "--channels",
        "channels.json",
        "-d",
        data,
        "--rate-limit",
        rate,
    ]
    .map(String::from)
    .to_vec();
    match zip {
        Some(z) => a.extend(["-o".into(), z.into()]),
        None => a.push("--no-zip".into()),
    }
    a.extend(extra.iter().cloned());
    a
}

/// The original's `matterbak` script in `venv`, installed from PyPI when missing; `Err` says
/// why it is not available.
pub(crate) fn original(venv: &Path) -> Result<PathBuf, String> {
    let bin = venv.join("bin/matterbak");
    if bin.is_file() {
        return Ok(bin);
    }
    let ok = |c: &mut Command| c.stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok(Command::new("python3").arg("-m").arg("venv").arg(venv)) {
        return Err("python3 -m venv failed (is python3 with venv installed?)".into());
    }
    if !ok(Command::new(venv.join("bin/pip")).args(["install", "-q", ORIGINAL])) {
        return Err(format!("pip install {ORIGINAL} failed"));
    }
    Ok(bin)
}

/// The 1-minute load average ("?" where /proc/loadavg is missing).
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// Removes the default temp work dir at the end.
pub(crate) struct Cleanup(pub(crate) Option<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(d) = &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The matterbak binary made absolute (it must exist), and the work dir: `work_dir`, or a
/// fresh temp dir that the returned [`Cleanup`] removes.
pub(crate) fn prepare(
    matterbak: &Path,
    work_dir: Option<&Path>,
) -> Result<(PathBuf, PathBuf, Cleanup)> {
    let matterbak = std::path::absolute(matterbak)?;
    if !matterbak.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release --workspace), or pass --matterbak",
            matterbak.display()
        );
    }
    let (dir, cleanup) = match work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            (std::path::absolute(d)?, Cleanup(None))
        }
        None => {
            let d = tempfile_dir()?;
            (d.clone(), Cleanup(Some(d)))
        }
    };
    Ok((matterbak, dir, cleanup))
}

/// Runs the benchmark and prints its table.
pub fn run(o: Opts) -> Result<()> {
    let (matterbak, dir, _cleanup) = prepare(&o.matterbak, o.work_dir.as_deref())?;
    let load_start = loadavg();
    let (t, c) = (Instant::now(), measure::self_cpu());
    let world = World::generate(o.seed, o.scale);
    let (gen_wall, gen_cpu) = (t.elapsed().as_secs_f64(), measure::self_cpu() - c);
    println!(
        "matterbak benchmark on the {:?} data set (seed {}): {}",
        o.scale,
        o.seed,
        describe(&world)
    );
    println!(
        "generated in {gen_wall:.1} s ({gen_cpu:.1} CPU s); work dir {}",
        dir.display()
    );
    let channels = world.sample_channels_json();
    let server = FakeServer::start(world);
    let mb = client_dir(&dir.join("matterbak"), &server, &channels)?;
    let mut rows = Vec::new();
    let say = |what: &str| eprintln!("bench: {what}");

    say("matterbak full backup (--rate-limit 0, with the zip)");
    let full = measured(
        &server,
        &mb,
        "full",
        &matterbak,
        &backup_args("data", Some("backup.zip"), "0", &o.extra),
    )?;
    rows.push(Row::matterbak(
        "matterbak full backup, --rate-limit 0",
        &full,
    ));
    rows.push(Row::server("  fakemm server meanwhile", &full));
    say("matterbak rerun without changes");
    let rerun = measured(
        &server,
        &mb,
        "rerun",
        &matterbak,
        &backup_args("data", Some("backup.zip"), "0", &o.extra),
    )?;
    rows.push(Row::matterbak(
        "matterbak no-change rerun, --rate-limit 0",
        &rerun,
    ));
    rows.push(Row::server("  fakemm server meanwhile", &rerun));

    say("matterbak zip: fresh on one thread, fresh, unchanged, one new file");
    let zip = |log: &str, extra: &[&str]| {
        let mut args = ["zip", "-d", "data", "-o", "zip-step.zip"]
            .map(String::from)
            .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        measured(&server, &mb, log, &matterbak, &args)
    };
    let _ = std::fs::remove_file(mb.join("zip-step.zip"));
    let one = zip("zip-fresh-1", &["--threads", "1"])?;
    std::fs::rename(mb.join("zip-step.zip"), mb.join("zip-step-1.zip"))?;
    let fresh = zip("zip-fresh", &[])?;
    let same_bytes = same_files(&mb.join("zip-step.zip"), &mb.join("zip-step-1.zip"))?;
    std::fs::remove_file(mb.join("zip-step-1.zip"))?;
    let same = zip("zip-unchanged", &[])?;
    let zip_size = std::fs::metadata(mb.join("zip-step.zip")).map_or(0, |m| m.len());
    // One file more: the unchanged zip cannot be kept, every other entry is copied.
    let new_file = mb.join("data/bench-new-file.json");
    std::fs::write(&new_file, b"{\"bench\":true}")?;
    let reuse = zip("zip-reuse", &[]);
    std::fs::remove_file(&new_file)?;
    let reuse = reuse?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    rows.push(Row::matterbak(
        &format!(
            "matterbak zip, fresh, --threads 1 ({:.0} MB zip)",
            zip_size as f64 / 1e6
        ),
        &one,
    ));
    rows.push(Row::matterbak(
        &format!("matterbak zip, fresh ({cores} cores)"),
        &fresh,
    ));
    // Close to half the time on two cores: the part that is not compression (walking the
    // data dir, writing the zip) stays on one.
    let want = 1.0 + 0.75 * (cores.min(8) as f64 - 1.0);
    let speedup = one.usage.wall / fresh.usage.wall.max(1e-9);
    rows.push(Row::ratio(
        "  zip fresh: one thread ÷ every core, wall",
        format!(
            "{speedup:.2}× (≥ {want:.2}×); the zips {}",
            if same_bytes {
                "are identical"
            } else {
                "DIFFER"
            }
        ),
        Some(speedup >= want && same_bytes),
    ));
    rows.push(Row::matterbak(
        "matterbak zip, unchanged (previous zip present)",
        &same,
    ));
    let zr = fresh.usage.wall / same.usage.wall.max(1e-9);
    rows.push(Row::ratio(
        "  zip fresh ÷ unchanged, wall",
        format!("{zr:.1}× (≥ 5×)"),
        Some(zr >= 5.0),
    ));
    rows.push(Row::matterbak(
        "matterbak zip, one new file (the rest copied from the previous zip)",
        &reuse,
    ));
    let _ = std::fs::remove_file(mb.join("zip-step.zip"));

    say("matterbak exports, from the data dir and from the zip");
    rows.extend(export_rows(&server, &mb, &matterbak)?);

    if o.with_rate_limit {
        say("matterbak full backup at --rate-limit 10 --no-zip (minutes)");
        let rl = measured(
            &server,
            &mb,
            "rate-limit",
            &matterbak,
            &backup_args("data-rl", None, "10", &o.extra),
        )?;
        let expect = rl.requests as f64 / 10.0;
        let dev = (rl.usage.wall / expect - 1.0) * 100.0;
        rows.push(Row::matterbak(
            "matterbak full backup, --rate-limit 10 --no-zip",
            &rl,
        ));
        rows.push(Row::ratio(
            "  wall vs requests ÷ 10",
            format!("{expect:.1} s expected, {dev:+.1}% (within ±5%)"),
            Some(dev.abs() <= 5.0),
        ));
        let _ = std::fs::remove_dir_all(mb.join("data-rl"));
    }

    if o.no_original {
        println!("original matterbak 0.5.2: skipped (--no-original)");
    } else {
        let venv = match &o.venv {
            Some(v) => std::path::absolute(v)?,
            None => dir.join("original-venv"),
        };
        say(&format!(
            "the original {ORIGINAL} (venv {})",
            venv.display()
        ));
        match original(&venv) {
            Err(why) => println!("original matterbak 0.5.2: skipped ({why})"),
            Ok(py) => {
                let od = client_dir(&dir.join("original"), &server, &channels)?;
                let args = |z: &str| backup_args("data", Some(z), "0", &[]);
                say("original full backup");
                let ofull = measured(&server, &od, "full", &py, &args("original.zip"))?;
                rows.push(Row::run(
                    "original 0.5.2 full backup, --rate-limit 0",
                    &ofull,
                ));
                rows.push(Row::server("  fakemm server meanwhile", &ofull));
                say("original rerun without changes");
                let orerun = measured(&server, &od, "rerun", &py, &args("original.zip"))?;
                rows.push(Row::run(
                    "original 0.5.2 no-change rerun, --rate-limit 0",
                    &orerun,
                ));
                rows.push(Row::server("  fakemm server meanwhile", &orerun));
                let speed = ofull.usage.wall / full.usage.wall.max(1e-9);
                let cpu = full.usage.cpu / ofull.usage.cpu.max(1e-9);
                rows.push(Row::ratio(
                    "  full backup: original wall ÷ matterbak wall",
                    format!("{speed:.1}× (≥ 10×)"),
                    Some(speed >= 10.0),
                ));
                rows.push(Row::ratio(
                    "  full backup: matterbak CPU ÷ original CPU",
                    format!("{cpu:.3} (≤ 0.1)"),
                    Some(cpu <= 0.1),
                ));
                // Issue 15, item 4: the kernel's part (creating ~156,000 files on Large).
                let (sys, osys) = (full.usage.sys, ofull.usage.sys);
                rows.push(Row::ratio(
                    "  full backup: kernel CPU, matterbak vs original",
                    format!("sys {sys:.2} s vs {osys:.2} s (≤ the original's)"),
                    Some(sys <= osys),
                ));
                let speed = orerun.usage.wall / rerun.usage.wall.max(1e-9);
                let cpu = rerun.usage.cpu / orerun.usage.cpu.max(1e-9);
                rows.push(Row::ratio(
                    "  rerun: original wall ÷ matterbak wall; CPU ratio",
                    format!("{speed:.1}×; {cpu:.3}"),
                    None,
                ));
                let rss = full.usage.max_rss as f64 / ofull.usage.max_rss.max(1) as f64;
                rows.push(Row::ratio(
                    "  full backup: matterbak RSS ÷ original RSS",
                    format!("{rss:.2}"),
                    None,
                ));
            }
        }
    }
    println!();
    print!("{}", print_table(&rows));
    print_footer(&rows, &load_start);
    Ok(())
}

/// The lines under a benchmark's table: the machine and its load, and how many checks pass.
pub(crate) fn print_footer(rows: &[Row], load_start: &str) {
    println!(
        "\nmachine: {} cores; 1-minute load average {load_start} at the start, {} at the end \
         (other work on the machine lengthens the wall times)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    let failed = rows.iter().filter(|r| r.pass == Some(false)).count();
    println!(
        "{} of {} checks pass{}",
        rows.iter().filter(|r| r.pass == Some(true)).count(),
        rows.iter().filter(|r| r.pass.is_some()).count(),
        if failed > 0 {
            format!("; {failed} FAIL")
        } else {
            String::new()
        }
    );
}
