//! Shared helpers: a fake server with a temp dir, config files and ways to run the binary, and
//! what the tests look up in the world, the server's counters and the output.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fakemm::{FakeServer, Scale, World};
use tempfile::TempDir;

pub const SEED: u64 = 7;

/// Retries without the real waits.
pub const FAST: [&str; 2] = ["--retry-wait-scale", "0.01"];

pub struct Env {
    pub server: FakeServer,
    pub tmp: TempDir,
}

impl Env {
    pub fn new(scale: Scale) -> Env {
        Self::with_world(World::generate(SEED, scale))
    }

    pub fn with_world(world: World) -> Env {
        let channels = world.sample_channels_json();
        let server = FakeServer::start(world);
        let tmp = tempfile::tempdir().unwrap();
        let env = Env { server, tmp };
        env.write_credentials(&serde_json::json!({
            "user": "alice", "password": "alice-password", "url": format!("{}/api", env.server.base_url())
        }));
        env.write_channels(&channels);
        env
    }

    /// A fresh env (its own fake server of the same seed and scale, which is the same world)
    /// whose data dir and zip are a copy of the first backup of `scale`, made once per process
    /// (see [`first_backup`]): for tests that read a backup (exports, verify, zip, readers) or
    /// damage their copy, not for tests of the first backup itself or of its requests.
    pub fn backed_up(scale: Scale) -> Env {
        let env = Env::new(scale);
        let from = first_backup(scale);
        let status = Command::new("cp")
            .arg("-a")
            .arg(from.join("data"))
            .arg(from.join("out.zip"))
            .arg(env.tmp.path())
            .status()
            .unwrap();
        assert!(status.success(), "copying the first backup of {scale:?}");
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn data(&self) -> PathBuf {
        self.path("data")
    }

    pub fn zip(&self) -> PathBuf {
        self.path("out.zip")
    }

    pub fn write_credentials(&self, v: &serde_json::Value) {
        std::fs::write(self.path("credentials.json"), v.to_string()).unwrap();
    }

    pub fn write_channels(&self, v: &serde_json::Value) {
        std::fs::write(
            self.path("channels.json"),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }

    /// The binary with this env's config files, data dir and zip (add a `--rate-limit`).
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_matterbak"));
        self.hermetic(&mut c);
        c.args([
            "--credentials",
            "credentials.json",
            "--channels",
            "channels.json",
            "-d",
            "data",
            "-o",
            "out.zip",
        ]);
        c
    }

    /// The binary in the temp dir, hermetic (see [`Env::hermetic`]), without the env's config
    /// files, data dir or zip: for `list`, `verify` and the exports.
    pub fn bare(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_matterbak"));
        self.hermetic(&mut c);
        c
    }

    /// `matterbak ARGS` as [`Env::bare`] runs it.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.bare().args(args).output().unwrap()
    }

    /// Runs in the temp dir, with none of the caller's login variables and `HOME` in the temp
    /// dir (so no real ~/.netrc is read).
    pub fn hermetic(&self, c: &mut Command) {
        c.current_dir(self.tmp.path())
            .env_remove("RUST_LOG")
            .env("TZ", "UTC")
            .env("HOME", self.tmp.path())
            .env_remove("USERPROFILE")
            .env_remove("NETRC");
        for v in [
            "MATTERBAK_URL",
            "MATTERBAK_USER",
            "MATTERBAK_TOKEN",
            "MATTERBAK_PASSWORD",
            "MATTERBAK_MFA_TOKEN",
            "MATTERBAK_CA_CERT",
            "MATTERBAK_MIN_SPEED",
            "MATTERBAK_MIN_SPEED_TIME",
            "MATTERBAK_REREAD_EVERY",
            // reqwest honours the proxy variables: the fake server is on loopback.
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            c.env_remove(v);
        }
    }

    /// Runs with `extra` arguments, without a rate limit unless `extra` sets one.
    pub fn run(&self, extra: &[&str]) -> Output {
        let mut c = self.cmd();
        if !extra.contains(&"--rate-limit") {
            c.args(["--rate-limit", "0"]);
        }
        c.args(extra).output().unwrap()
    }

    /// Runs and asserts exit code 0.
    pub fn run_ok(&self, extra: &[&str]) -> Output {
        let out = self.run(extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "matterbak failed:\n{}",
            text(&out)
        );
        out
    }
}

/// The folder holding `data` and `out.zip` of the first backup of `scale` (a plain run, as
/// [`Env::run_ok`] makes it), made once per process into `target/tmp` and kept for the
/// process's lifetime. Folders left by earlier processes are removed.
fn first_backup(scale: Scale) -> &'static Path {
    static DONE: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (i, name) = match scale {
        Scale::Tiny => (0, "tiny"),
        Scale::Demo => (1, "demo"),
        Scale::Large => (2, "large"),
    };
    DONE[i].get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let prefix = format!("first-backup-{name}-");
        for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let file_name = e.file_name().to_string_lossy().into_owned();
            let gone = file_name
                .strip_prefix(&prefix)
                .is_some_and(|pid| !Path::new("/proc").join(pid).exists());
            if gone {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = root.join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let env = Env::new(scale);
        env.run_ok(&[]);
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(env.data())
            .arg(env.zip())
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "keeping the first backup of {scale:?}");
        dir
    })
}

/// `matterbak verify -d data`: (exit code, output).
pub fn verify(env: &Env) -> (i32, String) {
    let out = env.exec(&["verify", "-d", "data"]);
    (out.status.code().unwrap_or(-1), text(&out))
}

/// The id of the user called `username`.
pub fn user_id(w: &World, username: &str) -> String {
    w.user_by_name(username).unwrap().id.to_string()
}

/// alice's id: the sample credentials log in as alice.
pub fn alice(env: &Env) -> String {
    env.server.with_world(|w| user_id(w, "alice"))
}

/// The id of the channel `name` of the team called `team`.
pub fn channel_id(w: &World, team: &str, name: &str) -> String {
    w.channel_by_names(team, name).unwrap().id.to_string()
}

/// The live posts of a channel that users wrote (no system messages), oldest first.
pub fn user_posts(w: &World, channel: &str) -> Vec<String> {
    w.live_posts(channel)
        .into_iter()
        .filter(|p| w.post(p).unwrap().post_type.is_empty())
        .collect()
}

/// How many requests the server counted for `route` (as `"GET /api/v4/files/{file_id}"`).
pub fn requests(env: &Env, route: &str) -> u64 {
    env.server.request_counts().get(route).copied().unwrap_or(0)
}

/// How many pages of posts the server answered.
pub fn posts_requests(env: &Env) -> u64 {
    requests(env, "GET /api/v4/channels/{channel_id}/posts")
}

/// The JSON file at `path`.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The output's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether the tests run on CI: `CI` is set to anything but empty, `false` or `0` (the rule
/// `scripts/check-original.sh` follows too). The one place that decides it.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"))
}

/// The first of `names` found on `PATH`, for a test that needs that tool. Without it the test
/// fails on CI (which installs `package`, see `.ci/run`); elsewhere this prints
/// `SKIPPED: <test>: <tool> not installed` and returns `None`, and the caller returns. The one
/// place a test is skipped.
pub fn require_tool(names: &[&str], package: &str) -> Option<PathBuf> {
    let found = names.iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        let test = std::thread::current().name().unwrap_or("?").to_owned();
        assert!(
            !on_ci(),
            "{test}: {} is not installed, but CI must run this test: apt-get install {package} \
             (.ci/run does this before the tests)",
            names[0]
        );
        // Straight to the process's stderr: the harness shows a passing test's `eprintln!`
        // only with `--nocapture`, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {test}: {} not installed, what needs it is not checked (apt-get install {package})",
            names[0]
        );
    }
    found
}

/// A port nobody listens on (bound, then closed again).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Holds the data dir's lock (the same `flock` a matterbak takes) as another run would.
pub fn hold_lock(data: &Path) -> std::fs::File {
    std::fs::create_dir_all(data).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(data.join(".matterbak.lock"))
        .unwrap();
    f.try_lock().unwrap();
    f
}

pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every entry below `root` (relative path with `/` -> its own metadata), sorted: folders,
/// files and anything else, links neither followed nor entered. The one tree walker of the
/// tests; the others filter it.
pub fn walk(root: &Path) -> std::collections::BTreeMap<String, std::fs::Metadata> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, m);
        }
    }
    out
}

/// Every regular file below `root` (relative path -> bytes), sorted; links are not followed.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walk(root)
        .into_iter()
        .filter(|(_, m)| m.is_file())
        .map(|(rel, _)| {
            let bytes = std::fs::read(root.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect()
}

/// Files whose name marks them as temp files of matterbak.
pub fn temp_files(root: &Path) -> Vec<String> {
    tree(root)
        .into_keys()
        .filter(|k| k.rsplit('/').next().unwrap().starts_with(".matterbak-tmp"))
        .collect()
}

/// What a [`watched`] run did.
pub struct Watched {
    pub out: Output,
    pub elapsed: Duration,
    /// The highest `VmHWM` of the program, read from `/proc/<pid>/status` while it ran (bytes);
    /// `None` when no reading was taken.
    rss: Option<u64>,
}

impl Watched {
    /// The run's peak resident size in bytes; fails the test when it was not measured (an
    /// unreadable `/proc`, or a run too short to sample) rather than measuring 0.
    pub fn peak_rss(&self) -> u64 {
        self.rss.unwrap_or_else(|| {
            panic!(
                "no reading of /proc/<pid>/status while it ran: its memory was not measured\n{}",
                text(&self.out)
            )
        })
    }
}

/// Longer than any run of the tests takes on a busy machine; a run that takes it hangs.
pub const HANG: Duration = Duration::from_secs(120);

/// Runs `cmd`, killing it (and failing) after `limit`, and samples its peak resident size as it
/// runs: the program's own high-water mark (`exec` starts it afresh, unlike `wait4`'s
/// `ru_maxrss`, which carries over the test process's size). Readings taken before the `exec`
/// (while `/proc` still names the forked test thread) are not counted, and a run of which no
/// reading was taken fails in [`Watched::peak_rss`] instead of measuring 0. Standard input is
/// empty. The one watcher and memory sampler of the tests.
pub fn watched(mut cmd: Command, limit: Duration) -> Watched {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // The kernel keeps the first 15 bytes of the name (`comm`).
    let comm: String = program.chars().take(15).collect();
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let mut rss = None;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            let named = s
                .lines()
                .find_map(|l| l.strip_prefix("Name:"))
                .is_some_and(|n| n.trim() == comm);
            let hwm = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if let (true, Some(kib)) = (named, hwm) {
                rss = Some(rss.unwrap_or(0).max(kib * 1024));
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let st = child.wait().unwrap();
            let out = Output {
                status: st,
                stdout: stdout.join().unwrap(),
                stderr: stderr.join().unwrap(),
            };
            panic!(
                "{program} still ran after {limit:?} (killed):\n{}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Watched {
        out: Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        elapsed: start.elapsed(),
        rss,
    }
}

/// The zip at `zip` holds exactly the files of the data dir `data` (but its lock), byte for
/// byte: every entry is read in full (the zip crate checks each CRC-32) and compared, and no file
/// is missing from it. The one "zip equals data dir" check.
pub fn assert_zip_is(zip: &Path, data: &Path) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).expect("zip written")).unwrap();
    let mut files = tree(data);
    files.remove(".matterbak.lock");
    let mut entries = std::collections::BTreeSet::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        if e.is_dir() {
            continue;
        }
        let mut v = Vec::new();
        e.read_to_end(&mut v)
            .unwrap_or_else(|err| panic!("{}: {err}", e.name()));
        assert_eq!(files.get(e.name()), Some(&v), "{}", e.name());
        assert!(entries.insert(e.name().to_owned()), "{} twice", e.name());
    }
    let missing: Vec<&String> = files.keys().filter(|k| !entries.contains(*k)).collect();
    assert!(missing.is_empty(), "not in the zip: {missing:?}");
}

/// A user's name as the exports show it (the original's display name): nickname, else first
/// and last name, else username. `user` is an id or a username.
pub fn display_name(w: &World, user: &str) -> String {
    let u = w.user(user).or_else(|| w.user_by_name(user)).unwrap();
    let full = format!("{} {}", u.first_name, u.last_name)
        .trim()
        .to_string();
    [u.nickname.clone(), full, u.username.clone()]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap()
}

/// `matterbak list [extra]` in the env's folder (its `credentials.json` is the default) with
/// the environment `vars` besides the hermetic basics, no rate limit unless `extra` sets one,
/// standard input closed (not a terminal).
pub fn list(env: &Env, vars: &[(&str, &str)], extra: &[&str]) -> Output {
    let mut c = env.bare();
    c.arg("list");
    if !extra.contains(&"--rate-limit") {
        c.args(["--rate-limit", "0"]);
    }
    c.args(extra)
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Waits until `ready()` holds (a state the test can observe: a request served, a temp file
/// there), then sends `signal` (`-INT`, `-TERM`, `-KILL`) to `child`. Fails when the child ends
/// first (it was not in the middle of anything: make the work bigger) or `ready` never holds
/// within [`HANG`]. No sleep before a signal: on a loaded machine it races the run's start.
pub fn signal_when(child: &mut Child, signal: &str, what: &str, ready: impl Fn() -> bool) {
    let t = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: ended ({status}) before it could be interrupted: make the work bigger");
        }
        assert!(t.elapsed() < HANG, "{what}: never got under way");
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "{what}: kill {signal}");
}
