//! `matterbak zip`: zip a data dir on its own (after `--no-zip`, or to time the zip step).

use std::time::Instant;

use anyhow::Result;

use crate::archive;
use crate::cancel::Cancel;
use crate::cli::ZipArgs;
use crate::error::Code;
use crate::store::lock::DirLock;
use crate::units::human_bytes;

/// With `quiet`, prints nothing on success.
pub fn run(args: ZipArgs, quiet: bool, cancel: &Cancel) -> Result<Code> {
    let started = Instant::now();
    let _lock = DirLock::acquire(&args.data_dir)?;
    let threads = args
        .threads
        .map_or_else(archive::default_threads, |n| n as usize);
    let zs = archive::write_zip_threads(
        &args.data_dir,
        &args.output_zip,
        args.zip_level,
        threads,
        cancel,
    )?;
    if quiet {
        return Ok(Code::Ok);
    }
    if zs.kept {
        println!(
            "matterbak: zip {} unchanged: nothing changed since it was written ({} entries, {}); checked in {:.1}s",
            args.output_zip.display(),
            zs.files,
            human_bytes(zs.bytes_out),
            started.elapsed().as_secs_f64()
        );
        return Ok(Code::Ok);
    }
    println!(
        "matterbak: zip {} ({} entries, {} copied from the previous zip; {} in, {} out) in {:.1}s",
        args.output_zip.display(),
        zs.files,
        zs.reused,
        human_bytes(zs.bytes_in),
        human_bytes(zs.bytes_out),
        started.elapsed().as_secs_f64()
    );
    Ok(Code::Ok)
}
