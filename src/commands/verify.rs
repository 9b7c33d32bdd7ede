//! `matterbak verify`: check a data dir and say what is wrong.

use anyhow::Result;

use crate::cli::VerifyArgs;
use crate::error::{Code, Fatal};
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
    let report = verify(&args.data_dir);
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
