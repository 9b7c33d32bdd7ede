//! Smoke test of `fakemm bench` at the tiny scale: the machinery (server, measured children,
//! the table) works and prints every row, in seconds. The real benchmark is a documented
//! command (docs/benchmark.md), not a timed test.
//!
//! It measures the matterbak binary built next to fakemm (`cargo test --workspace` builds it);
//! without one it measures a stand-in script, which still exercises the machinery.

use std::path::PathBuf;
use std::process::Command;

fn matterbak(work: &std::path::Path) -> PathBuf {
    let fakemm = PathBuf::from(env!("CARGO_BIN_EXE_fakemm"));
    let real = fakemm.with_file_name("matterbak");
    if real.is_file() {
        return real;
    }
    eprintln!("no {} built: measuring a stand-in", real.display());
    let stand_in = work.join("stand-in-matterbak");
    std::fs::write(
        &stand_in,
        "#!/bin/sh\nd=data; o=\nwhile [ $# -gt 0 ]; do case $1 in -d) d=$2; shift;; -o) o=$2; shift;; esac; shift; done\n\
         mkdir -p \"$d\" && echo '{}' > \"$d/x.json\" && if [ -n \"$o\" ]; then cp \"$d/x.json\" \"$o\"; fi\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    stand_in
}

#[test]
fn bench_runs_at_tiny_scale_and_prints_the_table() {
    let work = std::env::temp_dir().join(format!("fakemm-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let bin = matterbak(&work);
    let out = Command::new(env!("CARGO_BIN_EXE_fakemm"))
        .args(["bench", "--scale", "tiny", "--no-original", "--matterbak"])
        .arg(&bin)
        .arg("--work-dir")
        .arg(work.join("run"))
        .args(["--", "--jobs", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for row in [
        "| step ",
        "| matterbak full backup, --rate-limit 0 ",
        "| matterbak no-change rerun, --rate-limit 0 ",
        "| matterbak zip, fresh ",
        "| matterbak zip, unchanged ",
        "zip fresh ÷ unchanged",
        "fakemm server meanwhile",
        "original matterbak 0.5.2: skipped (--no-original)",
    ] {
        assert!(stdout.contains(row), "no {row:?} in:\n{stdout}");
    }
    assert!(work.join("run/matterbak/full.log").is_file());
    let _ = std::fs::remove_dir_all(&work);
}
