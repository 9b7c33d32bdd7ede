//! The layering of `lib.rs`, checked on the sources: a module may name (`crate::x`) only the
//! modules below it. Test modules (`#[cfg(test)]` to the end of a file) are not counted.

use std::path::Path;

/// The modules each one must not use.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "units",
        &[
            "api", "archive", "commands", "config", "error", "export", "fetch", "progress", "store",
        ],
    ),
    (
        "error",
        &[
            "api", "archive", "commands", "config", "export", "fetch", "progress", "store",
        ],
    ),
    (
        "progress",
        &["api", "archive", "commands", "export", "fetch", "store"],
    ),
    (
        "store",
        &[
            "api", "archive", "cli", "commands", "config", "export", "fetch", "progress",
        ],
    ),
    (
        "api",
        &["archive", "cli", "commands", "export", "fetch", "store"],
    ),
    (
        "export",
        &["api", "cli", "commands", "config", "fetch", "progress"],
    ),
    (
        "search",
        &["api", "cli", "commands", "config", "fetch", "progress"],
    ),
    (
        "config",
        &[
            "api", "archive", "cli", "commands", "export", "fetch", "store",
        ],
    ),
];

fn sources(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            sources(&e.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|x| x == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The top-level modules a source names: `crate::x::...`, `crate::x;` and `crate::{x, y::z}`.
fn used(code: &str) -> Vec<String> {
    let ident = |s: &str| {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        s[..end].to_string()
    };
    let mut out: Vec<String> = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            out.push(ident(rest));
            continue;
        };
        // The group's items at depth 0: `a::{b, c}, d` names a and d.
        let (mut depth, mut start) = (0, true);
        for (j, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => start = true,
                c if start && !c.is_whitespace() => {
                    out.push(ident(&group[j..]));
                    start = false;
                }
                _ => {}
            }
        }
    }
    out.retain(|m| !m.is_empty());
    out.sort();
    out.dedup();
    out
}

#[test]
fn the_uses_are_found() {
    assert_eq!(
        used("use crate::api::ApiError;\nuse crate::{error::{Code, Fatal}, store};\nx(crate::units::f)"),
        ["api", "error", "store", "units"]
    );
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (module, forbidden) in FORBIDDEN {
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        sources(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "no sources of {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            for other in used(code) {
                if forbidden.contains(&other.as_str()) {
                    wrong.push(format!("{} uses {other}", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
