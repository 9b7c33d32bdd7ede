//! Headless Chromium for the HTML export tests: the DOM a page renders to, every file it loads
//! and every network request it makes.
//!
//! File loads come from Chromium's verbose log (`FileURLLoader::Start: file:///...`); network
//! requests from its net log (`--log-net-log`), keeping only requests a page started (Chromium's
//! own background requests carry the initiator "not an origin").

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::require_tool;

/// The browser, or `None` when it is not installed (see [`require_tool`]: CI installs it).
pub fn chromium() -> Option<PathBuf> {
    require_tool(
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
        "chromium",
    )
}

/// What a page did in the browser.
pub struct Rendered {
    /// The DOM after scripts ran, serialised.
    pub dom: String,
    /// Every `file://` URL loaded (the page itself included), percent-decoded.
    pub file_loads: Vec<String>,
    /// Every non-file request the page started.
    pub net_requests: Vec<String>,
}

/// Loads `page` in headless Chromium and returns what it rendered and loaded. The window is
/// tall so that lazily loaded images in the page are loaded too.
///
/// Without `javascript`, the page's scripts are blocked by its own policy (a copy beside it
/// with `script-src 'none'`): Chromium's `--dump-dom` needs JavaScript itself, so switching it
/// off in the browser would leave nothing to inspect.
pub fn render(browser: &Path, page: &Path, javascript: bool) -> Rendered {
    if javascript {
        return render_file(browser, page);
    }
    let html = std::fs::read_to_string(page).unwrap();
    let blocked = html.replace("script-src 'unsafe-inline'", "script-src 'none'");
    assert!(
        blocked.contains("script-src 'none'"),
        "{}: no script policy",
        page.display()
    );
    let name = page.file_name().unwrap().to_string_lossy();
    let copy = page.with_file_name(format!(".nojs-{name}"));
    std::fs::write(&copy, blocked).unwrap();
    let r = render_file(browser, &copy);
    std::fs::remove_file(&copy).unwrap();
    r
}

fn render_file(browser: &Path, page: &Path) -> Rendered {
    let work = tempfile::tempdir().unwrap();
    let netlog = work.path().join("net.json");
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--window-size=1200,20000",
        "--virtual-time-budget=3000",
        "--enable-logging=stderr",
        "--v=1",
    ])
    .arg(format!(
        "--user-data-dir={}",
        work.path().join("profile").display()
    ))
    .arg(format!("--log-net-log={}", netlog.display()))
    .arg("--net-log-capture-mode=Default");
    cmd.arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("starting chromium");
    let out = wait_with_timeout(child, Duration::from_secs(120));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}\n{}",
        out.status,
        stderr.lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(
        dom.contains("<html"),
        "no DOM for {url}: {dom:.200}\n{}",
        stderr
            .lines()
            .filter(|l| !l.contains("VERBOSE"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let file_loads = stderr
        .lines()
        .filter_map(|l| l.split_once("FileURLLoader::Start: ").map(|x| x.1.trim()))
        .map(percent_decode)
        .collect();
    Rendered {
        dom,
        file_loads,
        net_requests: page_requests(&netlog),
    }
}

fn wait_with_timeout(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    // Read the pipes on threads so a chatty browser cannot block on a full pipe.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).ok();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).ok();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// URLs of the requests in a net log that a page started.
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).unwrap_or_default();
    // Chromium may stop before closing the JSON; the log is then valid up to the last event.
    let v: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| {
            let cut = text.trim_end().trim_end_matches(',');
            serde_json::from_str(&format!("{cut}]}}"))
        })
        .unwrap_or_else(|e| panic!("unreadable net log {}: {e}", netlog.display()));
    let start_job = v["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_i64()
        .expect("net log constants");
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"].as_i64() == Some(start_job))
        .filter_map(|e| {
            let p = &e["params"];
            let url = p["url"].as_str()?;
            let initiator = p["initiator"].as_str().unwrap_or("");
            (initiator != "not an origin").then(|| url.to_string())
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Problems with what a page loaded: network requests, and files outside `site`.
pub fn outside_loads(r: &Rendered, site: &Path) -> Vec<String> {
    let root = site.canonicalize().unwrap();
    let mut bad: Vec<String> = r
        .net_requests
        .iter()
        .map(|u| format!("network request: {u}"))
        .collect();
    for u in &r.file_loads {
        let Some(path) = u.strip_prefix("file://") else {
            bad.push(format!("not a file URL: {u}"));
            continue;
        };
        let path = path.split(['#', '?']).next().unwrap_or(path);
        // Lexically normalise (a file that does not exist cannot be canonicalised).
        let mut norm = PathBuf::new();
        for c in Path::new(path).components() {
            match c {
                std::path::Component::ParentDir => {
                    norm.pop();
                }
                std::path::Component::CurDir => {}
                c => norm.push(c),
            }
        }
        if !norm.starts_with(&root) {
            bad.push(format!("file outside the site: {u}"));
        }
    }
    bad
}

/// The values of attribute `attr` in the start tags of element `tag` in `html`.
pub fn attr_values(html: &str, tag: &str, attr: &str) -> Vec<String> {
    let open = format!("<{tag}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        if !after.starts_with([' ', '>', '\n', '/']) {
            rest = after;
            continue;
        }
        let end = after.find('>').unwrap_or(after.len());
        let tag_text = &after[..end];
        let pat = format!(" {attr}=\"");
        if let Some(j) = tag_text.find(&pat) {
            let v = &tag_text[j + pat.len()..];
            out.push(v[..v.find('"').unwrap_or(v.len())].replace("&amp;", "&"));
        }
        rest = &after[end..];
    }
    out
}

/// Problems with the resources a page's HTML loads (`img`, `link`, `script`, `iframe`, media,
/// CSS `url()`): each must be a relative path to a file inside `site`. `page` is the page's file.
pub fn static_problems(html: &str, page: &Path, site: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut urls: Vec<(String, String)> = Vec::new();
    for (tag, attr) in [
        ("img", "src"),
        ("img", "srcset"),
        ("script", "src"),
        ("link", "href"),
        ("iframe", "src"),
        ("frame", "src"),
        ("video", "src"),
        ("video", "poster"),
        ("audio", "src"),
        ("source", "src"),
        ("embed", "src"),
        ("object", "data"),
        ("input", "src"),
    ] {
        for v in attr_values(html, tag, attr) {
            urls.push((format!("<{tag} {attr}>"), v));
        }
    }
    for what in ["url(", "@import"] {
        if html.contains(what) {
            bad.push(format!("{}: has CSS {what}", page.display()));
        }
    }
    let root = site.canonicalize().unwrap();
    let dir = page.parent().unwrap();
    for (what, url) in urls {
        let lower = url.to_ascii_lowercase();
        if lower.contains(':') || url.starts_with('/') || url.starts_with("//") {
            bad.push(format!(
                "{}: {what} {url} is not a relative path",
                page.display()
            ));
            continue;
        }
        let file = dir.join(percent_decode(url.split(['#', '?']).next().unwrap()));
        match file.canonicalize() {
            Ok(p) if p.starts_with(&root) && p.is_file() => {}
            Ok(p) => bad.push(format!(
                "{}: {what} {url} -> {} is outside the site",
                page.display(),
                p.display()
            )),
            Err(e) => bad.push(format!("{}: {what} {url}: {e}", page.display())),
        }
    }
    bad
}
