//! `matterbak [backup]`: log in, back up the selection into the data dir, zip it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rand::Rng;

use super::code_for;
use super::login::{self, Session};
use super::report::{Report, ZipReport};
use crate::api::model::{Raw, User};
use crate::api::{Client, ClientOptions};
use crate::archive;
use crate::cancel::Cancel;
use crate::cli::{BackupArgs, GlobalArgs};
use crate::config::{ChannelsConfig, Credentials};
use crate::error::{Code, Fatal};
use crate::fetch::{self, Engine};
use crate::progress::{Progress, StatusLine};
use crate::store::Store;

/// Runs the backup; returns the exit code for a run that ended normally. With
/// `--summary-json`, the summary is written whatever the outcome.
pub fn run(args: BackupArgs, out: &GlobalArgs, cancel: &Cancel) -> Result<Code> {
    let mut report = Report::start(&args.data_dir);
    let result = configure_and_run(&args, out, &mut report, cancel);
    let Some(path) = &args.summary_json else {
        return result;
    };
    let code = match &result {
        Ok(c) => *c,
        Err(e) => code_for(e),
    };
    report.finish(code, result.as_ref().err());
    match (report.write(path), result) {
        (Ok(()), result) => result,
        // The run went well but its summary, which a monitor waits for, is missing: a failure.
        (Err(e), Ok(_)) => Err(e),
        (Err(e), Err(run)) => {
            tracing::error!("{e:#}");
            Err(run)
        }
    }
}

fn configure_and_run(
    args: &BackupArgs,
    out: &GlobalArgs,
    report: &mut Report,
    cancel: &Cancel,
) -> Result<Code> {
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
        .unwrap_or_else(|| archive::default_output(&creds.user));

    let opts = login::client_options(&args.connect, args.rate_limit, args.retry_wait_scale)?;

    let cancel = cancel.clone();
    // One worker drives the connections (sending a request, receiving a body) while the main
    // thread writes what came before.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(inner_run(
        args,
        out,
        (creds, opts),
        channels,
        output,
        cancel,
        report,
    ))
}

async fn inner_run(
    args: &BackupArgs,
    out: &GlobalArgs,
    (creds, opts): (Credentials, ClientOptions),
    channels: ChannelsConfig,
    output: PathBuf,
    cancel: Cancel,
    report: &mut Report,
) -> Result<Code> {
    // The lock first (before the jitter and the first request): a second run asks the server
    // nothing. A data dir this run created is removed again when the run fails before writing
    // into it.
    let store = Store::at(&args.data_dir);
    store.lock()?;
    let r = backup(
        args,
        out,
        (creds, opts),
        channels,
        output,
        cancel,
        report,
        &store,
    )
    .await;
    if r.is_err() {
        store.remove_if_unused();
    }
    r
}

#[allow(clippy::too_many_arguments)]
async fn backup(
    args: &BackupArgs,
    out: &GlobalArgs,
    (creds, opts): (Credentials, ClientOptions),
    channels: ChannelsConfig,
    output: PathBuf,
    cancel: Cancel,
    report: &mut Report,
    store: &Store,
) -> Result<Code> {
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
    Arc::get_mut(&mut session.client)
        .expect("the client is not shared yet")
        .set_waiting_flag(progress.waiting.clone());
    // Only a person at a terminal reading text logs wants the status line.
    let status = StatusLine::start(progress.clone(), !out.quiet && !out.json());
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
        reread_every: args.reread_every.unwrap_or(0),
        progress: progress.clone(),
    };
    let fetched = fetch_all(
        &session.client,
        store,
        me,
        args,
        &channels,
        &fopts,
        &cancel,
        report,
    )
    .await;
    session.logout().await;
    report.client(&session.client);
    fetched?;

    if !args.no_zip {
        progress.phase("zip");
        tracing::info!("writing {}", output.display());
        let zip_cancel = cancel.clone();
        let (data_dir, out, level) = (args.data_dir.clone(), output.clone(), args.zip_level);
        let zs = tokio::task::spawn_blocking(move || {
            archive::write_zip_level(&data_dir, &out, level, &zip_cancel)
        })
        .await??;
        report.zip = Some(ZipReport {
            path: output,
            entries: zs.files,
            reused: zs.reused,
            unchanged: zs.kept,
            bytes: zs.bytes_out,
        });
    }
    drop(status);

    let partial = !report.failures.is_empty();
    if out.json() {
        let c = &report.counts;
        tracing::info!(
            channels = c.channels,
            posts_seen = c.posts_seen,
            posts_new = c.posts_new,
            posts_updated = c.posts_updated,
            posts_edited = c.posts_edited,
            posts_deleted = c.posts_deleted,
            files = c.files,
            bytes = c.bytes,
            users = c.users,
            emojis = c.emojis,
            requests = report.requests,
            duration_secs = report.clock_secs(),
            failures = report.failures.len(),
            "backup finished"
        );
        // Each failure was logged as an error when it happened.
    } else {
        if !out.quiet {
            println!("{}", report.line());
        }
        if partial {
            eprintln!(
                "matterbak: {} items could not be backed up (the next run tries them again):",
                report.failures.len()
            );
            for f in &report.failures {
                eprintln!("  - {f}");
            }
        }
    }
    Ok(if partial { Code::Partial } else { Code::Ok })
}

/// Checks the selection against the server and runs the engine; the report gets the engine's
/// counts whatever the outcome.
#[allow(clippy::too_many_arguments)]
async fn fetch_all(
    client: &Arc<Client>,
    store: &Store,
    me: Raw<User>,
    args: &BackupArgs,
    channels: &ChannelsConfig,
    fopts: &fetch::Options,
    cancel: &Cancel,
    report: &mut Report,
) -> Result<()> {
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
    let mut engine = Engine::new(client, store, channels, fopts, me, cancel.clone());
    // Usernames that do not exist are a usage error, before anything is written.
    engine
        .check_selection(&channel_list, &args.channels)
        .await?;
    store.open()?;
    let (summary, result) = engine.run(teams, channel_list).await;
    report.engine(&summary);
    result
}
