//! `fakemm bench-latency`: matterbak against a server that answers every request after a
//! fixed latency (issue 15, "Fast over a real network").
//!
//! For each latency: a full backup at `--rate-limit 0` (wall, requests, and the time one
//! request at a time would need: requests × latency), optionally the original 0.5.2 against
//! the same server, and optionally a full backup at `--rate-limit 10`. Prints one Markdown
//! table with the targets marked PASS/FAIL.

use std::path::PathBuf;

use anyhow::Result;
use fakemm::{FakeServer, Faults, Scale, World};

use crate::speed::{
    backup_args, client_dir, describe, loadavg, measured, original, prepare, print_footer,
    print_table, Row,
};

/// Options of `fakemm bench-latency`.
pub struct Opts {
    pub matterbak: PathBuf,
    pub seed: u64,
    pub scale: Scale,
    /// The latencies to measure, in ms.
    pub latency_ms: Vec<u64>,
    /// matterbak's `--jobs`.
    pub jobs: u16,
    pub with_rate_limit: bool,
    pub no_original: bool,
    pub venv: Option<PathBuf>,
    pub work_dir: Option<PathBuf>,
}

/// Runs the benchmark and prints its table.
pub fn run(o: Opts) -> Result<()> {
    let (matterbak, dir, _cleanup) = prepare(&o.matterbak, o.work_dir.as_deref())?;
    let load_start = loadavg();
    let world = World::generate(o.seed, o.scale);
    println!(
        "matterbak latency benchmark on the {:?} data set (seed {}): {}",
        o.scale,
        o.seed,
        describe(&world)
    );
    let channels = world.sample_channels_json();
    let server = FakeServer::start(world);
    let mb = client_dir(&dir.join("matterbak"), &server, &channels)?;
    let py = if o.no_original {
        println!("original matterbak 0.5.2: skipped (--no-original)");
        None
    } else {
        let venv = match &o.venv {
            Some(v) => std::path::absolute(v)?,
            None => dir.join("original-venv"),
        };
        match original(&venv) {
            Ok(py) => Some((py, client_dir(&dir.join("original"), &server, &channels)?)),
            Err(why) => {
                println!("original matterbak 0.5.2: skipped ({why})");
                None
            }
        }
    };
    let jobs = o.jobs.to_string();
    let extra = ["--jobs".to_string(), jobs.clone()];
    let mut rows = Vec::new();
    let say = |what: &str| eprintln!("bench-latency: {what}");
    for &ms in &o.latency_ms {
        server.set_faults(Faults {
            latency_ms: Some((ms, ms)),
            ..Faults::default()
        });
        say(&format!(
            "matterbak full backup, {ms} ms latency, --jobs {jobs}"
        ));
        let _ = std::fs::remove_dir_all(mb.join("data"));
        let _ = std::fs::remove_file(mb.join("backup.zip"));
        let full = measured(
            &server,
            &mb,
            &format!("latency-{ms}"),
            &matterbak,
            &backup_args("data", Some("backup.zip"), "0", &extra),
        )?;
        let serial = full.requests as f64 * ms as f64 / 1000.0;
        let ideal = serial / f64::from(o.jobs.max(1));
        rows.push(Row::matterbak(
            &format!("matterbak full backup, {ms} ms, --rate-limit 0 --jobs {jobs}"),
            &full,
        ));
        let within = full.usage.wall / ideal.max(1e-9);
        rows.push(Row::ratio(
            "  one request at a time would need (requests × latency)",
            format!(
                "{serial:.1} s; ÷ jobs {ideal:.1} s; wall is {within:.2}× that (≤ 1.5× on Large)"
            ),
            (o.scale == Scale::Large && ms == 20).then_some(within <= 1.5),
        ));
        if let Some((py, od)) = &py {
            say(&format!("original full backup, {ms} ms latency"));
            let _ = std::fs::remove_dir_all(od.join("data"));
            let _ = std::fs::remove_file(od.join("original.zip"));
            let ofull = measured(
                &server,
                od,
                &format!("latency-{ms}"),
                py,
                &backup_args("data", Some("original.zip"), "0", &[]),
            )?;
            rows.push(Row::run(
                &format!("original 0.5.2 full backup, {ms} ms, --rate-limit 0"),
                &ofull,
            ));
            let speed = ofull.usage.wall / full.usage.wall.max(1e-9);
            rows.push(Row::ratio(
                "  original wall ÷ matterbak wall",
                format!("{speed:.1}× (≥ 4× at 20 ms on Demo)"),
                (o.scale == Scale::Demo && ms == 20).then_some(speed >= 4.0),
            ));
            let _ = std::fs::remove_dir_all(od.join("data"));
        }
        if o.with_rate_limit {
            say(&format!(
                "matterbak full backup, {ms} ms latency, --rate-limit 10"
            ));
            let rl = measured(
                &server,
                &mb,
                &format!("latency-{ms}-rl"),
                &matterbak,
                &backup_args("data-rl", None, "10", &extra),
            )?;
            let expect = rl.requests as f64 / 10.0;
            let dev = (rl.usage.wall / expect - 1.0) * 100.0;
            rows.push(Row::matterbak(
                &format!("matterbak full backup, {ms} ms, --rate-limit 10 --no-zip"),
                &rl,
            ));
            rows.push(Row::ratio(
                "  wall vs requests ÷ 10",
                format!("{expect:.1} s expected, {dev:+.1}% (within ±2%)"),
                Some(dev.abs() <= 2.0),
            ));
            let _ = std::fs::remove_dir_all(mb.join("data-rl"));
        }
        let _ = std::fs::remove_dir_all(mb.join("data"));
    }
    println!();
    print!("{}", print_table(&rows));
    print_footer(&rows, &load_start);
    Ok(())
}
