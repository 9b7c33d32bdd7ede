//! `fakemm serve`: run the fake Mattermost server until killed;
//! `fakemm bench-requests`: matterbak's request-budget benchmark;
//! `fakemm bench`: matterbak's speed and memory benchmark (issue 7).

mod bench;
mod latency;
mod measure;
mod speed;

use clap::{Parser, Subcommand};
use fakemm::{FakeServer, FaultKind, Faults, HostileMode, Scale, World};
use std::io::Write;

#[derive(Parser)]
#[command(name = "fakemm", about = "A fake Mattermost server for matterbak")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve a generated data set.
    Serve {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// tiny | demo | large
        #[arg(long, default_value = "demo")]
        scale: Scale,
        #[arg(long, default_value = "127.0.0.1:8065")]
        addr: String,
        /// Write credentials.json and channels.json into this directory.
        #[arg(long)]
        write_config: Option<std::path::PathBuf>,
        /// Disable custom emoji (emoji endpoints answer 501).
        #[arg(long)]
        no_custom_emoji: bool,
        /// Enable rate limiting with this many requests per second (burst 100).
        #[arg(long)]
        rate_limit: Option<u32>,
        /// ServiceSettings.WebserverMode: gzip (the default, as on the real server: API
        /// answers of 1400 bytes or more are gzipped for clients that accept it),
        /// uncompressed or disabled.
        #[arg(long, default_value = "gzip")]
        webserver_mode: fakemm::WebserverMode,
        #[command(flatten)]
        faults: FaultArgs,
    },
    /// Run matterbak against a data set in three scenarios and print its requests per
    /// endpoint beside the minimum the data set needs.
    BenchRequests {
        /// The matterbak binary to measure.
        #[arg(long, default_value = "target/release/matterbak")]
        matterbak: std::path::PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value = "large")]
        scale: Scale,
        /// How many scattered changes the third scenario makes.
        #[arg(long, default_value_t = 100)]
        changes: usize,
        /// Where the backups go (default: a fresh temp dir).
        #[arg(long)]
        work_dir: Option<std::path::PathBuf>,
    },
    /// Matterbak's speed and memory benchmark: full backup, no-change rerun, the zip step alone,
    /// optionally a rate-limited backup, and the original matterbak 0.5.2 side by side. Prints
    /// one table with PASS/FAIL against the targets of issue 7.
    Bench {
        /// The matterbak binary to measure.
        #[arg(long, default_value = "target/release/matterbak")]
        matterbak: std::path::PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// tiny | demo | large
        #[arg(long, default_value = "large")]
        scale: Scale,
        /// Also a full backup at --rate-limit 10 --no-zip (about 6 minutes on Large).
        #[arg(long)]
        with_rate_limit: bool,
        /// Do not run the original Python matterbak 0.5.2.
        #[arg(long)]
        no_original: bool,
        /// The venv of the original (created with python3 -m venv and pip when missing;
        /// default: inside the work dir).
        #[arg(long)]
        venv: Option<std::path::PathBuf>,
        /// Where the backups go (kept; default: a fresh temp dir, removed at the end).
        #[arg(long)]
        work_dir: Option<std::path::PathBuf>,
        /// Extra options for every matterbak backup run (after `--`).
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// matterbak against a server that answers after a fixed latency: full backups at
    /// --rate-limit 0 (and optionally 10), beside requests × latency and the original 0.5.2.
    BenchLatency {
        /// The matterbak binary to measure.
        #[arg(long, default_value = "target/release/matterbak")]
        matterbak: std::path::PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// tiny | demo | large
        #[arg(long, default_value = "demo")]
        scale: Scale,
        /// Latencies to measure, in ms (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [20, 50])]
        latency_ms: Vec<u64>,
        /// matterbak's --jobs.
        #[arg(long, default_value_t = 8)]
        jobs: u16,
        /// Also a full backup at --rate-limit 10 --no-zip for each latency.
        #[arg(long)]
        with_rate_limit: bool,
        /// Do not run the original Python matterbak 0.5.2.
        #[arg(long)]
        no_original: bool,
        /// The venv of the original (created when missing; default: inside the work dir).
        #[arg(long)]
        venv: Option<std::path::PathBuf>,
        /// Where the backups go (kept; default: a fresh temp dir, removed at the end).
        #[arg(long)]
        work_dir: Option<std::path::PathBuf>,
    },
    /// Run a command and write its wall seconds, CPU seconds and peak RSS to a file (what
    /// `fakemm bench` measures each run with).
    #[command(hide = true)]
    Measure {
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
}

/// Fault injection and hostile modes (see README.md).
#[derive(clap::Args)]
struct FaultArgs {
    /// Fraction of /api/v4 requests that get a fault (0 = off).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Seed of the fault decisions.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Enabled fault kinds, comma-separated (default all):
    /// status,too_many,drop,truncate,slow,timeout_408
    #[arg(long, value_delimiter = ',')]
    fault_kinds: Vec<FaultKind>,
    /// Delay of a `slow` fault in ms.
    #[arg(long, default_value_t = 200)]
    fault_slow_ms: u64,
    /// No 429 bursts: a `too_many` fault is a single 429.
    #[arg(long)]
    no_429_burst: bool,
    /// Extra latency on every /api/v4 request: `MS` or `MIN-MAX` (ms).
    #[arg(long)]
    latency_ms: Option<String>,
    /// Switch on a hostile mode (repeatable): redirect_other_host, repeat_pages,
    /// huge_response, invalid_json, html_login, file_size_mismatch, file_size_short, gzip_bomb,
    /// repeat_listings, overlap_members, trickle, endless_reset.
    #[arg(long)]
    hostile: Vec<HostileMode>,
    /// Milliseconds between two bytes of a `trickle` answer.
    #[arg(long, default_value_t = 1000)]
    trickle_ms: u64,
}

impl FaultArgs {
    fn faults(&self) -> anyhow::Result<Faults> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.fault_rate),
            "--fault-rate must be in [0, 1]"
        );
        let mut f = Faults::new(self.fault_rate, self.fault_seed);
        if !self.fault_kinds.is_empty() {
            f = f.with_kinds(&self.fault_kinds);
        }
        f.slow_ms = self.fault_slow_ms;
        f.too_many_burst = !self.no_429_burst;
        if let Some(l) = &self.latency_ms {
            let (lo, hi) = l.split_once('-').unwrap_or((l, l));
            let (lo, hi): (u64, u64) = (lo.trim().parse()?, hi.trim().parse()?);
            anyhow::ensure!(lo <= hi, "--latency-ms: MIN > MAX");
            f.latency_ms = Some((lo, hi));
        }
        Ok(f)
    }
}

fn main() -> anyhow::Result<()> {
    let (seed, scale, addr, write_config, no_custom_emoji, rate_limit, webserver_mode, faults) =
        match Cli::parse().cmd {
            Cmd::Serve {
                seed,
                scale,
                addr,
                write_config,
                no_custom_emoji,
                rate_limit,
                webserver_mode,
                faults,
            } => (
                seed,
                scale,
                addr,
                write_config,
                no_custom_emoji,
                rate_limit,
                webserver_mode,
                faults,
            ),
            Cmd::BenchRequests {
                matterbak,
                seed,
                scale,
                changes,
                work_dir,
            } => {
                return bench::run(matterbak, seed, scale, changes, work_dir);
            }
            Cmd::BenchLatency {
                matterbak,
                seed,
                scale,
                latency_ms,
                jobs,
                with_rate_limit,
                no_original,
                venv,
                work_dir,
            } => {
                return latency::run(latency::Opts {
                    matterbak,
                    seed,
                    scale,
                    latency_ms,
                    jobs,
                    with_rate_limit,
                    no_original,
                    venv,
                    work_dir,
                });
            }
            Cmd::Measure { out, cmd } => return measure::measure_main(&out, &cmd),
            Cmd::Bench {
                matterbak,
                seed,
                scale,
                with_rate_limit,
                no_original,
                venv,
                work_dir,
                extra,
            } => {
                return speed::run(speed::Opts {
                    matterbak,
                    seed,
                    scale,
                    with_rate_limit,
                    no_original,
                    venv,
                    work_dir,
                    extra,
                });
            }
        };
    let mut world = World::generate(seed, scale);
    world.config.custom_emoji_enabled = !no_custom_emoji;
    world.config.rate_limit = rate_limit.filter(|r| *r > 0).map(|r| (r, 100));
    world.config.webserver_mode = webserver_mode;
    world.config.faults = faults.faults()?;
    for m in &faults.hostile {
        world.config.hostile.set(*m, true);
    }
    world.config.hostile.trickle_ms = faults.trickle_ms;
    let channels = world.sample_channels_json();
    let server = FakeServer::start_on(world, &addr)?;
    let url = server.base_url();
    if let Some(dir) = write_config {
        std::fs::create_dir_all(&dir)?;
        let creds = serde_json::json!({
            "user": "alice", "password": "alice-password", "url": format!("{url}/api")
        });
        std::fs::write(
            dir.join("credentials.json"),
            serde_json::to_string_pretty(&creds)? + "\n",
        )?;
        // A credentials file holds a password: readable by its owner only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join("credentials.json"),
                std::fs::Permissions::from_mode(0o600),
            )?;
        }
        std::fs::write(
            dir.join("channels.json"),
            serde_json::to_string_pretty(&channels)? + "\n",
        )?;
    }
    let mut out = std::io::stdout();
    writeln!(out, "fakemm listening on {url}")?;
    out.flush()?;
    server.wait();
    Ok(())
}
