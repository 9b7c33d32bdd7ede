//! `matterbak verify`: check a data dir and say what is wrong.

use anyhow::Result;

use crate::archive;
use crate::cli::VerifyArgs;
use crate::config::{Credentials, LoginSources};
use crate::error::{Code, Fatal};
use crate::store::lock::ReadLock;
use crate::store::verify::verify;

/// With `quiet`, prints only the problems (nothing when there are none).
pub fn run(args: VerifyArgs, quiet: bool) -> Result<Code> {
    if args.data_dir.is_file() {
        return Err(Fatal::usage(format!(
            "{} is a file, not a data dir: -d takes the data dir a backup writes (to check the \
             contents of a backup zip, extract it and give that folder with -d)",
            args.data_dir.display()
        ))
        .into());
    }
    // A backup writing meanwhile would show as damage: not checked then (exit 6).
    let _lock = ReadLock::acquire(&args.data_dir)?;
    let mut report = verify(&args.data_dir);
    let zip = args.zip.clone().or_else(default_zip);
    let zip_check = zip.map(|z| (archive::check_zip(&z, &args.data_dir), z));
    if let Some((c, _)) = &zip_check {
        report.problems.extend(c.problems.iter().cloned());
    }
    for n in &report.notes {
        tracing::warn!("{n}");
    }
    for p in &report.problems {
        println!("{p}");
    }
    if quiet {
        return Ok(if report.problems.is_empty() {
            Code::Ok
        } else {
            Code::Failure
        });
    }
    if let Some((c, z)) = &zip_check {
        println!("verify {}: {} entries checked", z.display(), c.entries);
    }
    println!(
        "verify {}: {} files, {} posts, {} attachments checked; {} problems",
        args.data_dir.display(),
        report.files,
        report.posts,
        report.attachments,
        report.problems.len()
    );
    Ok(if report.problems.is_empty() {
        Code::Ok
    } else {
        Code::Failure
    })
}

/// The zip a backup run from here writes by default, if it exists and the user is known.
fn default_zip() -> Option<std::path::PathBuf> {
    let user = std::env::var("MATTERBAK_USER")
        .ok()
        .filter(|u| !u.is_empty());
    let creds = Credentials::resolve(&LoginSources::from_env(None, user, None)).ok()?;
    Some(archive::default_output(&creds.user)).filter(|z| z.exists())
}
