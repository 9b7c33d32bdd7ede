//! `~/.netrc` (or `$NETRC`): a user name and password per host, as curl, git and Python's
//! `netrc` read it.
//!
//! The file is a stream of tokens separated by spaces, tabs or newlines: `machine HOST` starts
//! an entry, `default` starts the entry for any other host, and `login USER`, `password SECRET`
//! and `account ...` fill it in. `macdefine NAME` is followed by a macro up to the next empty
//! line, which is skipped. A token may be quoted (`"two words"`, with `\` escapes); `#` at the
//! start of a token comments out the rest of the line. Unknown tokens are ignored, so a file
//! written for another tool never stops a backup.

use super::Secret;

/// One `machine` (or `default`) entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub login: Option<String>,
    pub password: Option<Secret>,
}

/// A parsed netrc file.
#[derive(Debug, Default)]
pub struct Netrc {
    machines: Vec<(String, Entry)>,
    default: Option<Entry>,
}

impl Netrc {
    pub fn parse(text: &str) -> Netrc {
        let mut n = Netrc::default();
        // Where the current entry's fields go: `Some(i)` = machines[i], `None` = default.
        let mut current: Option<Option<usize>> = None;
        let mut toks = Tokens::new(text);
        while let Some(tok) = toks.next() {
            match tok.as_str() {
                "machine" => {
                    let host = toks.next().unwrap_or_default();
                    n.machines.push((host, Entry::default()));
                    current = Some(Some(n.machines.len() - 1));
                }
                "default" => {
                    n.default = Some(Entry::default());
                    current = Some(None);
                }
                "login" | "password" | "account" => {
                    let value = toks.next().unwrap_or_default();
                    let entry = match current {
                        Some(Some(i)) => Some(&mut n.machines[i].1),
                        Some(None) => n.default.as_mut(),
                        None => None,
                    };
                    if let Some(e) = entry {
                        match tok.as_str() {
                            "login" => e.login = Some(value),
                            "password" => e.password = Some(Secret::new(value)),
                            _ => {}
                        }
                    }
                }
                "macdefine" => {
                    toks.next();
                    toks.skip_macro();
                    current = None;
                }
                _ => {}
            }
        }
        n
    }

    /// The entry for `host` (case-insensitive), or the `default` entry. With `user`, only an
    /// entry for that login (or one without a login) counts, as in curl.
    pub fn find(&self, host: &str, user: Option<&str>) -> Option<&Entry> {
        let fits = |e: &Entry| match (user, &e.login) {
            (Some(u), Some(l)) => l == u,
            _ => true,
        };
        self.machines
            .iter()
            .filter(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, e)| e)
            .find(|e| fits(e))
            .or_else(|| self.default.as_ref().filter(|e| fits(e)))
    }
}

/// The tokens of a netrc file.
struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens { rest: text }
    }

    /// Skips a macro body: everything up to and including the next empty line.
    fn skip_macro(&mut self) {
        // The rest of the `macdefine NAME` line first.
        let mut lines = self.rest.split_inclusive('\n');
        let mut used = lines.next().map_or(0, str::len);
        for line in lines {
            used += line.len();
            if line.trim().is_empty() {
                break;
            }
        }
        self.rest = &self.rest[used.min(self.rest.len())..];
    }
}

impl Iterator for Tokens<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            self.rest = self.rest.trim_start();
            if let Some(comment) = self.rest.strip_prefix('#') {
                self.rest = comment.split_once('\n').map_or("", |(_, r)| r);
                continue;
            }
            break;
        }
        if self.rest.is_empty() {
            return None;
        }
        if let Some(quoted) = self.rest.strip_prefix('"') {
            let mut tok = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            tok.push(match n {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                    }
                    c => tok.push(c),
                }
            }
            self.rest = &quoted[end..];
            return Some(tok);
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let tok = self.rest[..end].to_string();
        self.rest = &self.rest[end..];
        Some(tok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(e: Option<&Entry>) -> Option<&str> {
        e.and_then(|e| e.password.as_ref()).map(Secret::expose)
    }

    #[test]
    fn one_line_and_several_lines() {
        let n = Netrc::parse(
            "machine a.example login alice password s1\n\
             machine b.example\n  login bob\n\tpassword s2\n  account ignored\n",
        );
        let a = n.find("a.example", None).unwrap();
        assert_eq!(a.login.as_deref(), Some("alice"));
        assert_eq!(pw(Some(a)), Some("s1"));
        assert_eq!(pw(n.find("B.EXAMPLE", Some("bob"))), Some("s2"));
        assert!(n.find("c.example", None).is_none());
    }

    #[test]
    fn default_entry_and_user_matching() {
        let n = Netrc::parse(
            "machine h login bob password b\nmachine h login alice password a\ndefault login carol password c",
        );
        assert_eq!(pw(n.find("h", Some("alice"))), Some("a"));
        assert_eq!(pw(n.find("h", None)), Some("b"));
        assert_eq!(pw(n.find("other", None)), Some("c"));
        assert_eq!(pw(n.find("other", Some("carol"))), Some("c"));
        assert!(n.find("other", Some("dave")).is_none());
        assert!(n.find("h", Some("dave")).is_none());
    }

    #[test]
    fn macdefine_comments_and_quotes_are_skipped_or_read() {
        let n = Netrc::parse(
            "# my netrc\nmacdefine init\ncd /pub\nmachine evil login x password y\n\n\
             machine h login \"al ice\" password \"p\\\"w d\" # trailing comment\n",
        );
        assert!(n.find("evil", None).is_none(), "inside the macro");
        let e = n.find("h", None).unwrap();
        assert_eq!(e.login.as_deref(), Some("al ice"));
        assert_eq!(pw(Some(e)), Some("p\"w d"));
    }

    #[test]
    fn broken_files_do_not_panic() {
        for t in [
            "",
            "machine",
            "login x",
            "password",
            "machine h password",
            "\"unclosed",
            "macdefine",
        ] {
            let _ = Netrc::parse(t).find("h", None);
        }
        assert!(format!("{:?}", Netrc::parse("machine h password sekrit")).contains("***"));
    }
}
