//! Measuring a child process: wall seconds, CPU seconds (user + sys) and peak RSS of that child
//! alone, taken from `wait4(2)`, and the CPU seconds of this process (where the in-process fake
//! server runs) from `getrusage(RUSAGE_SELF)`.
//!
//! The bench does not measure its children directly: a child forked from the bench (which holds
//! the generated world, 150 MB on Large) inherits that resident size as its peak (Linux keeps the
//! high-water mark across `exec`), so every row would say 150 MB. It runs `fakemm measure --out
//! FILE -- CMD...` instead ([`run_measured`]): a freshly exec'd, small fakemm that forks the
//! command, waits for it with `wait4` and writes the figures to FILE ([`measure_main`]).

// getrusage(2) and wait4(2) have no safe wrapper in std or rustix; each call says why it is sound.
#![allow(unsafe_code)]

use std::process::{Command, ExitStatus};
use std::time::Instant;

use anyhow::{Context, Result};

/// What one child cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub wall: f64,
    /// User + system CPU seconds of the child (and of the children it waited for).
    pub cpu: f64,
    /// The system (kernel) part of `cpu`.
    pub sys: f64,
    /// Peak resident set size in bytes (`ru_maxrss`, which Linux gives in KiB).
    pub max_rss: u64,
}

fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

fn cpu_of(ru: &libc::rusage) -> f64 {
    seconds(ru.ru_utime) + seconds(ru.ru_stime)
}

/// User + system CPU seconds of this process so far (all its threads).
pub fn self_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct it is given; a zeroed rusage is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    cpu_of(&ru)
}

/// Runs `cmd` to its end and measures it. The caller redirects its output (a child writing to
/// a pipe nobody reads would block).
pub fn run(cmd: &mut Command) -> Result<(ExitStatus, Usage)> {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: as in self_cpu.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own child, not yet reaped (std's Child is never waited for: it is
        // dropped below, and dropping a Child neither waits nor kills).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
    let wall = start.elapsed().as_secs_f64();
    drop(child);
    Ok((
        ExitStatus::from_raw(status),
        Usage {
            wall,
            cpu: cpu_of(&ru),
            sys: seconds(ru.ru_stime),
            max_rss: ru.ru_maxrss.max(0) as u64 * 1024,
        },
    ))
}

/// `fakemm measure --out FILE -- CMD...`: runs CMD with this process's stdio, writes
/// "<wait status> <wall> <cpu> <max rss> <sys>" to FILE and exits 0 (the status is in FILE).
pub fn measure_main(out: &std::path::Path, cmd: &[String]) -> Result<()> {
    let (prog, args) = cmd.split_first().context("fakemm measure: no command")?;
    let (status, u) = run(Command::new(prog).args(args))?;
    use std::os::unix::process::ExitStatusExt;
    std::fs::write(
        out,
        format!(
            "{} {} {} {} {}\n",
            status.into_raw(),
            u.wall,
            u.cpu,
            u.max_rss,
            u.sys
        ),
    )
    .with_context(|| format!("writing {}", out.display()))
}

/// Runs `prog args` in `dir` under `fakemm measure` (see the module doc), its output (and the
/// wrapper's) into `log`, the figures through `usage_file`.
pub fn run_measured(
    prog: &std::path::Path,
    args: &[String],
    dir: &std::path::Path,
    log: std::fs::File,
    usage_file: &std::path::Path,
) -> Result<(ExitStatus, Usage)> {
    use std::os::unix::process::ExitStatusExt;
    let _ = std::fs::remove_file(usage_file);
    let st = Command::new(std::env::current_exe().context("the fakemm binary")?)
        .arg("measure")
        .arg("--out")
        .arg(usage_file)
        .arg("--")
        .arg(prog)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("running fakemm measure")?;
    let text = std::fs::read_to_string(usage_file)
        .with_context(|| format!("fakemm measure ({st}) wrote no {}", usage_file.display()))?;
    let f: Vec<&str> = text.split_whitespace().collect();
    anyhow::ensure!(f.len() == 5, "bad {}: {text:?}", usage_file.display());
    Ok((
        ExitStatus::from_raw(f[0].parse()?),
        Usage {
            wall: f[1].parse()?,
            cpu: f[2].parse()?,
            max_rss: f[3].parse()?,
            sys: f[4].parse()?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_child() {
        let (st, u) = run(
            Command::new("sh").args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
        )
        .unwrap();
        assert!(st.success());
        assert!(
            u.wall > 0.0 && u.cpu > 0.0 && u.cpu <= u.wall * 2.0 + 0.05,
            "{u:?}"
        );
        assert!(u.max_rss > 100 * 1024, "{u:?}");
        let (st, _) = run(Command::new("sh").args(["-c", "exit 3"])).unwrap();
        assert_eq!(st.code(), Some(3));
    }
}
