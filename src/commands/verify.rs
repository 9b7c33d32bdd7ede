//! `matterbak verify`: check a data dir and say what is wrong.

use anyhow::Result;

use crate::cli::VerifyArgs;
use crate::error::Code;
use crate::store::verify::verify;

pub fn run(args: VerifyArgs) -> Result<Code> {
    let report = verify(&args.data_dir);
    for p in &report.problems {
        println!("{p}");
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
