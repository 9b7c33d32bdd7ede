//! `fakemm serve`: run the fake Mattermost server until killed;
//! `fakemm bench-requests`: matterbak's request-budget benchmark.

mod bench;

use clap::{Parser, Subcommand};
use fakemm::{FakeServer, Scale, World};
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
}

fn main() -> anyhow::Result<()> {
    let (seed, scale, addr, write_config, no_custom_emoji, rate_limit) = match Cli::parse().cmd {
        Cmd::Serve {
            seed,
            scale,
            addr,
            write_config,
            no_custom_emoji,
            rate_limit,
        } => (seed, scale, addr, write_config, no_custom_emoji, rate_limit),
        Cmd::BenchRequests {
            matterbak,
            seed,
            scale,
            changes,
            work_dir,
        } => {
            return bench::run(matterbak, seed, scale, changes, work_dir);
        }
    };
    let mut world = World::generate(seed, scale);
    world.config.custom_emoji_enabled = !no_custom_emoji;
    world.config.rate_limit = rate_limit.filter(|r| *r > 0).map(|r| (r, 100));
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
