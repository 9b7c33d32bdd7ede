//! `matterbak [backup]`: log in, back up the selection into the data dir, zip it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::Rng;

use super::login::{self, Session};
use crate::api::ClientOptions;
use crate::archive;
use crate::cancel::Cancel;
use crate::cli::BackupArgs;
use crate::config::{ChannelsConfig, Credentials};
use crate::error::{Code, Fatal};
use crate::fetch::{self, human_bytes, Engine};
use crate::progress::{Progress, StatusLine};
use crate::store::Store;

/// Runs the backup; returns the exit code for a run that ended normally.
pub fn run(args: BackupArgs) -> Result<Code> {
    // Configuration first: a bad file must not touch the data dir or the network.
    let creds = login::credentials(&args.connect)?;
    let channels = ChannelsConfig::load(&args.channels)?;
    if channels.selects_nothing() && !(args.skip_direct && args.skip_groups && args.skip_teams) {
        return Err(Fatal::usage(format!(
            "channels file {} selects nothing: name teams, direct or groups to back up (see channels.example.json)",
            args.channels.display()
        ))
        .into());
    }
    let output = args
        .output_zip
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("matterbak_{}.zip", creds.user)));

    let opts = login::client_options(&args.connect, args.rate_limit, args.retry_wait_scale)?;

    let cancel = Cancel::new();
    cancel.install_signal_handler();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(inner_run(args, creds, channels, output, opts, cancel))
}

async fn inner_run(
    args: BackupArgs,
    creds: Credentials,
    channels: ChannelsConfig,
    output: PathBuf,
    opts: ClientOptions,
    cancel: Cancel,
) -> Result<Code> {
    let started = Instant::now();
    if args.initial_jitter > 0.0 {
        let s = rand::rng().random_range(0.0..args.initial_jitter);
        tracing::info!("initial jitter: sleeping {s:.2}s");
        cancel.sleep(Duration::from_secs_f64(s)).await?;
    }
    let progress = Progress::new();
    let (mut session, me) = Session::open(
        &creds,
        args.connect.mfa_token.clone(),
        &opts,
        cancel.clone(),
    )
    .await?;
    session.client.set_waiting_flag(progress.waiting.clone());
    let status = StatusLine::start(progress.clone(), true);
    let client = &session.client;

    // Team names must exist before anything is written.
    let teams = client
        .teams_for_user(&me.v.id)
        .await
        .context("listing your teams")?;
    let unknown: Vec<&String> = channels
        .teams
        .keys()
        .filter(|k| {
            !teams
                .iter()
                .any(|t| t.v.name == **k || t.v.display_name == **k)
        })
        .collect();
    if !unknown.is_empty() && !args.skip_teams {
        let mut have: Vec<&str> = teams.iter().map(|t| t.v.name.as_str()).collect();
        have.sort();
        return Err(Fatal::usage(format!(
            "channels file {}: no team of {} is called {} (the teams are: {})",
            args.channels.display(),
            me.v.username,
            unknown
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", "),
            have.join(", ")
        ))
        .into());
    }
    let channel_list = client
        .channels_for_user(&me.v.id)
        .await
        .context("listing your channels")?;
    let fopts = fetch::Options {
        update_old_posts: args.update_old_posts,
        skip_direct: args.skip_direct,
        skip_groups: args.skip_groups,
        skip_teams: args.skip_teams,
        skip_users: args.skip_users,
        skip_user_images: args.skip_user_images || args.skip_users,
        skip_emojis: args.skip_emojis,
        step_jitter: args.step_jitter,
        jobs: args.jobs as usize,
        progress: progress.clone(),
    };
    let store = Store::at(&args.data_dir);
    let mut engine = Engine::new(client, &store, &channels, &fopts, me, cancel.clone());
    // Usernames that do not exist are a usage error, before anything is written.
    let checked = engine.check_selection(&channel_list, &args.channels).await;
    let result = match checked.and_then(|()| store.open()) {
        Ok(()) => engine.run(teams, channel_list).await,
        Err(e) => Err(e),
    };
    session.logout().await;
    let summary = result?;

    let zipped = if args.no_zip {
        "no zip (--no-zip)".to_string()
    } else {
        progress.phase("zip");
        tracing::info!("writing {}", output.display());
        let zip_cancel = cancel.clone();
        let (data_dir, out) = (args.data_dir.clone(), output.clone());
        let zs =
            tokio::task::spawn_blocking(move || archive::write_zip(&data_dir, &out, &zip_cancel))
                .await??;
        format!(
            "zip {} ({} entries, {} reused, {})",
            output.display(),
            zs.files,
            zs.reused,
            human_bytes(zs.bytes_out)
        )
    };

    drop(status);
    println!(
        "matterbak: {} channels, {} posts ({} new, {} updated, {} edited, {} deleted), {} files ({}), {} users, {} emojis; {}; {} requests in {:.1}s (waiting for the rate limit {:.1}s, in HTTP requests {:.1}s)",
        summary.channels,
        summary.posts_seen,
        summary.posts_new,
        summary.posts_updated,
        summary.posts_edited,
        summary.posts_deleted,
        summary.files,
        human_bytes(summary.bytes),
        summary.users,
                summary.emojis,
                zipped,
        client.request_count(),
        started.elapsed().as_secs_f64(),
        client.limit_wait().as_secs_f64(),
        client.http_time().as_secs_f64(),
    );
    if summary.failures.is_empty() {
        Ok(Code::Ok)
    } else {
        eprintln!(
            "matterbak: {} items could not be backed up (the next run tries them again):",
            summary.failures.len()
        );
        for f in &summary.failures {
            eprintln!("  - {f}");
        }
        Ok(Code::Partial)
    }
}
