//! JSON nested deeper than the readers go: the one rule by which verify and the exports read a
//! file of a backup whose arrays and objects nest deeper than [`MAX_DEPTH`] levels (a post's
//! `props` are whatever a client or bot sent; the server keeps them as they are).
//!
//! serde_json refuses such a document (`recursion limit exceeded`, at 128 levels), and lifting
//! its limit would move the problem to the stack: parsing, dropping and writing a
//! `serde_json::Value` recurse once per level, so a hostile 100,000-level file would overflow it.
//! Instead, [`within_depth`] checks the syntax of the whole document first (serde_json skips an
//! ignored value with a loop, not by recursion, so that has no limit and no stack cost), then
//! copies it with every array or object below [`MAX_DEPTH`] levels replaced by `null`, in one
//! pass over the bytes with a counter. What remains parses as usual, and nothing anywhere holds
//! more than [`MAX_DEPTH`] levels.

use std::borrow::Cow;

use serde::de::IgnoredAny;

/// The deepest nesting of arrays and objects read from a backup's JSON (serde_json's own limit
/// is 128; what Mattermost itself writes nests a dozen levels at most).
pub const MAX_DEPTH: usize = 100;

/// `bytes` as the readers read them: unchanged (borrowed) when nothing nests deeper than
/// [`MAX_DEPTH`] levels; otherwise a copy where every array or object that would be level
/// `MAX_DEPTH + 1` is `null` (owned: the caller says what was left out).
///
/// # Errors
/// The JSON's syntax error when the document is not valid JSON (checked before anything is
/// cut, so that a damaged file is never read as a good one).
pub fn within_depth(bytes: &[u8]) -> Result<Cow<'_, [u8]>, serde_json::Error> {
    if max_depth(bytes) <= MAX_DEPTH {
        return Ok(Cow::Borrowed(bytes));
    }
    serde_json::from_slice::<IgnoredAny>(bytes)?;
    Ok(Cow::Owned(cut(bytes)))
}

/// The deepest nesting of arrays and objects in `bytes`, outside strings.
fn max_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut scan = Scan::default();
    for &b in bytes {
        match scan.step(b) {
            Tok::Open => {
                depth += 1;
                max = max.max(depth);
            }
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::Other => {}
        }
    }
    max
}

/// A copy of valid JSON `bytes` with the arrays and objects below [`MAX_DEPTH`] levels replaced
/// by `null`.
fn cut(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().min(1 << 20));
    let mut depth = 0usize;
    // While inside a subtree that is left out: how deep inside it.
    let mut skipping = 0usize;
    let mut scan = Scan::default();
    for &b in bytes {
        let tok = scan.step(b);
        if skipping > 0 {
            match tok {
                Tok::Open => skipping += 1,
                Tok::Close => skipping -= 1,
                Tok::Other => {}
            }
            continue;
        }
        match tok {
            Tok::Open if depth == MAX_DEPTH => {
                skipping = 1;
                out.extend_from_slice(b"null");
                continue;
            }
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::Other => {}
        }
        out.push(b);
    }
    out
}

#[derive(PartialEq)]
enum Tok {
    Open,
    Close,
    Other,
}

/// Where a byte of JSON is: in a string (after a `\` or not) or outside.
#[derive(Default)]
struct Scan {
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// What byte `b` is: a bracket that opens or closes an array or object, or anything else.
    fn step(&mut self, b: u8) -> Tok {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return Tok::Other;
        }
        match b {
            b'"' => {
                self.in_string = true;
                Tok::Other
            }
            b'[' | b'{' => Tok::Open,
            b']' | b'}' => Tok::Close,
            _ => Tok::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn nested(levels: usize, inner: &str) -> String {
        format!(
            "{}{inner}{}",
            r#"{"a":["#.repeat(levels / 2),
            "]}".repeat(levels / 2)
        )
    }

    #[test]
    fn shallow_json_is_read_as_it_is() {
        let s = nested(MAX_DEPTH, "1");
        assert!(matches!(within_depth(s.as_bytes()), Ok(Cow::Borrowed(_))));
        assert_eq!(max_depth(s.as_bytes()), MAX_DEPTH);
        // Brackets in strings are not nesting.
        let s = format!(r#"{{"m":"{}\"[[{}"}}"#, "[".repeat(500), "{".repeat(500));
        assert!(matches!(within_depth(s.as_bytes()), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn deeper_parts_become_null_and_the_rest_parses() {
        let post = format!(
            r#"{{"id":"p1","props":{},"message":"hi [{{\"","n":[1,{{"b":2}}]}}"#,
            nested(130, r#""deep""#)
        );
        assert!(
            serde_json::from_str::<Value>(&post).is_err(),
            "serde's own limit"
        );
        assert_eq!(max_depth(post.as_bytes()), 131);
        let cut = within_depth(post.as_bytes()).unwrap();
        assert!(matches!(cut, Cow::Owned(_)));
        let v: Value = serde_json::from_slice(&cut).unwrap();
        assert_eq!(v["id"], "p1");
        assert_eq!(v["message"], r#"hi [{""#);
        assert_eq!(v["n"], serde_json::json!([1, {"b": 2}]));
        // `props` is level 2 of the post: levels 2 to MAX_DEPTH are kept, the next is null.
        let mut at = &v["props"];
        let mut levels = 1;
        while let Some(next) = at.get("a").or_else(|| at.get(0)) {
            at = next;
            levels += 1;
        }
        assert_eq!((levels + 1, at), (MAX_DEPTH + 1, &Value::Null));
    }

    #[test]
    fn a_hostile_depth_costs_no_stack_and_bad_json_stays_an_error() {
        let s = format!(r#"{{"id":"p1","props":{}}}"#, nested(200_000, "0"));
        let v: Value = serde_json::from_slice(&within_depth(s.as_bytes()).unwrap()).unwrap();
        assert_eq!(v["id"], "p1");
        // Damage inside the part that would be cut is still damage.
        let bad = format!(r#"{{"props":{}}}"#, nested(300, "1 2"));
        assert!(within_depth(bad.as_bytes()).is_err());
        let open = "[".repeat(1000);
        assert!(within_depth(open.as_bytes()).is_err());
    }
}
