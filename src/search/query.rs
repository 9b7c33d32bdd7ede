//! The search query: Mattermost's own syntax, parsed into a [`Query`] and matched against one
//! post at a time.
//!
//! ```text
//! word            every word must be in the message (whole word, case- and accent-insensitive)
//! wor*            a word starting with "wor"
//! "two words"     the words one after the other
//! -word  -"a b"   excluded
//! #tag            the hashtag #tag
//! from:alice      posted by alice (several from: = any of them); -from:alice
//! in:town-square  in that channel (name, team/name; direct and group channels by the other
//!                 members' usernames, `bob` or `bob,carol`); several in: = any; -in:
//! before:2024-01-31  after:2024-01-01  on:2024-01-15   (local dates; before/after exclude the day)
//! has:file  is:pinned   (and -has:file, -is:pinned)
//! ```
//!
//! Any other `key:` is a usage error naming it. Words are compared as [`super::text`] folds them.

use chrono::NaiveDate;

use super::text::{self, Word};
use crate::error::Fatal;

/// Words, a phrase or a hashtag: the folded words that must appear one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    /// The last word is a prefix (`wor*`).
    pub prefix: bool,
    /// The first word must be a hashtag (`#tag`).
    pub hashtag: bool,
}

impl Term {
    /// Where in `words` (a message's) this term is, if it is: the range of words.
    pub fn find(&self, words: &[Word]) -> Option<std::ops::Range<usize>> {
        let n = self.words.len();
        if n == 0 || words.len() < n {
            return None;
        }
        (0..=words.len() - n)
            .find(|&i| {
                (self.words.iter().enumerate()).all(|(k, t)| {
                    let w = &words[i + k];
                    let same = if self.prefix && k == n - 1 {
                        w.folded.starts_with(t.as_str())
                    } else {
                        w.folded == *t
                    };
                    same && (k > 0 || !self.hashtag || w.hashtag)
                })
            })
            .map(|i| i..i + n)
    }
}

/// A parsed query. An empty list means "no condition".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Every one must match.
    pub terms: Vec<Term>,
    /// None may match.
    pub excluded: Vec<Term>,
    /// Usernames (lowercase); the author is one of them.
    pub from: Vec<String>,
    pub not_from: Vec<String>,
    /// Channel names as given; the post is in one of them.
    pub in_channels: Vec<String>,
    pub not_in: Vec<String>,
    /// Local dates: created before the start of `before`, after the end of `after`, on `on`.
    pub before: Option<NaiveDate>,
    pub after: Option<NaiveDate>,
    pub on: Option<NaiveDate>,
    /// `has:file` (`Some(true)`) or `-has:file` (`Some(false)`).
    pub has_file: Option<bool>,
    /// `is:pinned` or `-is:pinned`.
    pub pinned: Option<bool>,
}

/// The keys the syntax knows, for the error that names an unknown one.
const KEYS: &str = "from: in: before: after: on: has:file is:pinned";

fn usage(msg: String) -> anyhow::Error {
    Fatal::usage(msg).into()
}

impl Query {
    /// Parses the words of the command line (joined by spaces). A usage error (exit 2) for an
    /// unknown key, a bad value or a query without anything to look for.
    pub fn parse(args: &[String]) -> anyhow::Result<Query> {
        let s = args.join(" ");
        let mut q = Query::default();
        let mut chars = s.char_indices().peekable();
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
                continue;
            }
            let negated = c == '-';
            if negated {
                chars.next();
            }
            let quoted = chars.peek().is_some_and(|&(_, c)| c == '"');
            let mut token = String::new();
            if quoted {
                chars.next();
                for (_, c) in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    token.push(c);
                }
            } else {
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    token.push(c);
                    chars.next();
                }
            }
            if !quoted {
                if let Some((key, value)) = key_value(&token) {
                    q.key(&key, value, negated)?;
                    continue;
                }
            }
            if let Some(t) = term(&token, quoted) {
                if negated {
                    q.excluded.push(t);
                } else {
                    q.terms.push(t);
                }
            }
        }
        if q == Query::default() {
            return Err(usage(format!(
                "nothing to search for in {s:?} (give words, \"a phrase\", #tag or {KEYS})"
            )));
        }
        Ok(q)
    }

    fn key(&mut self, key: &str, value: &str, negated: bool) -> anyhow::Result<()> {
        if !["from", "in", "before", "after", "on", "has", "is"].contains(&key) {
            return Err(usage(format!(
                "unknown search key {key}: (matterbak knows {KEYS}; put a word with a colon in \"quotes\")"
            )));
        }
        if value.is_empty() {
            return Err(usage(format!(
                "{key}: needs a value (e.g. {key}:something)"
            )));
        }
        let date = |v: &str| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                usage(format!(
                    "{key}:{v}: not a date (give it as YYYY-MM-DD, e.g. {key}:2024-01-31)"
                ))
            })
        };
        let no_negation = || {
            if negated {
                Err(usage(format!("-{key}: cannot be negated")))
            } else {
                Ok(())
            }
        };
        match key {
            "from" => {
                let name = value.trim_start_matches('@').to_lowercase();
                if negated {
                    self.not_from.push(name);
                } else {
                    self.from.push(name);
                }
            }
            "in" => {
                let name = value.trim_start_matches(['~', '@']).to_string();
                if negated {
                    self.not_in.push(name);
                } else {
                    self.in_channels.push(name);
                }
            }
            "before" => {
                no_negation()?;
                self.before = Some(date(value)?);
            }
            "after" => {
                no_negation()?;
                self.after = Some(date(value)?);
            }
            "on" => {
                no_negation()?;
                self.on = Some(date(value)?);
            }
            "has" => match value.to_lowercase().as_str() {
                "file" | "files" => self.has_file = Some(!negated),
                v => {
                    return Err(usage(format!(
                        "has:{v}: unknown (matterbak knows has:file)"
                    )))
                }
            },
            "is" => match value.to_lowercase().as_str() {
                "pinned" => self.pinned = Some(!negated),
                v => {
                    return Err(usage(format!(
                        "is:{v}: unknown (matterbak knows is:pinned)"
                    )))
                }
            },
            _ => unreachable!("checked above"),
        }
        Ok(())
    }

    /// Whether the words of a message match the terms: every term found, no excluded one.
    pub fn matches_words(&self, words: &[Word]) -> bool {
        self.terms.iter().all(|t| t.find(words).is_some())
            && !self.excluded.iter().any(|t| t.find(words).is_some())
    }
}

/// `key:value` of a token whose part before the first `:` is a word of ASCII letters (the key
/// lowercased; whether it is known, [`Query::key`] says). `None` for anything else (a word,
/// `10:30`, `:)`).
fn key_value(token: &str) -> Option<(String, &str)> {
    let (key, value) = token.split_once(':')?;
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((key.to_lowercase(), value))
}

/// The term of a word or phrase; `None` when it has no words (`*`, `#`, `--`).
fn term(token: &str, quoted: bool) -> Option<Term> {
    let (token, prefix) = match token.strip_suffix('*') {
        Some(t) if !quoted => (t, true),
        _ => (token, false),
    };
    let hashtag = !quoted && token.starts_with('#');
    let words: Vec<String> = text::words(token).into_iter().map(|w| w.folded).collect();
    (!words.is_empty()).then_some(Term {
        words,
        prefix,
        hashtag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(&[s.to_string()]).unwrap()
    }

    fn err(s: &str) -> String {
        let e = Query::parse(&[s.to_string()]).unwrap_err();
        assert_eq!(
            e.downcast_ref::<Fatal>().map(|f| f.code),
            Some(crate::error::Code::Usage),
            "{e}"
        );
        format!("{e:#}")
    }

    fn matches(query: &str, text: &str) -> bool {
        q(query).matches_words(&text::words(text))
    }

    #[test]
    fn words_must_all_match_as_whole_words() {
        assert!(matches("deploy friday", "Friday we deploy."));
        assert!(!matches("deploy friday", "we deploy"));
        assert!(!matches("deploy", "deployment"));
        assert!(matches("CAFÉ", "un cafe"));
        assert!(matches("cafe", "un Café"));
    }

    #[test]
    fn a_star_makes_a_prefix() {
        assert!(matches("deploy*", "deployment done"));
        assert!(!matches("deploy*", "redeploy"));
        assert!(q("deploy*").terms[0].prefix);
        // A star alone is nothing to search for.
        err("*");
    }

    #[test]
    fn phrases_are_words_in_a_row() {
        let p = q("\"release notes\" draft");
        assert_eq!(p.terms[0].words, ["release", "notes"]);
        assert_eq!(p.terms[1].words, ["draft"]);
        assert!(matches("\"release notes\"", "the Release, notes!"));
        assert!(!matches("\"release notes\"", "notes release"));
        // Unterminated: to the end.
        assert!(matches("\"release notes", "release notes"));
        // A key inside quotes is a phrase.
        assert!(matches("\"from:bob\"", "from: bob"));
        // A hyphenated word is a phrase of its parts.
        assert!(matches("e-mail", "an e mail"));
        assert!(!matches("e-mail", "mail e"));
    }

    #[test]
    fn minus_excludes() {
        let p = q("deploy -friday -\"late night\"");
        assert_eq!(p.excluded.len(), 2);
        assert!(matches("deploy -friday", "deploy monday"));
        assert!(!matches("deploy -friday", "deploy friday"));
        assert!(!matches("deploy -\"late night\"", "deploy late night"));
        assert!(matches("deploy -\"late night\"", "deploy night late"));
    }

    #[test]
    fn hashtags_match_hashtags_only() {
        assert!(matches("#release", "ship it #release"));
        assert!(!matches("#release", "the release"));
        assert!(matches("release", "#release"));
    }

    #[test]
    fn keys() {
        let p = q("from:@Alice from:bob -from:carol in:town-square in:acme/dev -in:bob,carol");
        assert_eq!(p.from, ["alice", "bob"]);
        assert_eq!(p.not_from, ["carol"]);
        assert_eq!(p.in_channels, ["town-square", "acme/dev"]);
        assert_eq!(p.not_in, ["bob,carol"]);
        let p = q("before:2024-01-31 after:2023-12-31 on:2024-01-15 has:file is:pinned");
        assert_eq!(p.before, NaiveDate::from_ymd_opt(2024, 1, 31));
        assert_eq!(p.after, NaiveDate::from_ymd_opt(2023, 12, 31));
        assert_eq!(p.on, NaiveDate::from_ymd_opt(2024, 1, 15));
        assert_eq!((p.has_file, p.pinned), (Some(true), Some(true)));
        let p = q("-has:file -IS:Pinned");
        assert_eq!((p.has_file, p.pinned), (Some(false), Some(false)));
        assert!(p.terms.is_empty());
        // Not keys: a time, a smiley, a URL-ish word with a digit key.
        let p = q("10:30 :)");
        assert_eq!(p.terms[0].words, ["10", "30"]);
    }

    #[test]
    fn bad_keys_and_values_are_usage_errors_naming_them() {
        assert!(err("deploy foo:bar").contains("foo:"));
        assert!(err("http://example.org").contains("http:"));
        assert!(err("before:yesterday").contains("before:yesterday"));
        assert!(err("on:2024-13-01").contains("on:2024-13-01"));
        assert!(err("has:link").contains("has:link"));
        assert!(err("is:flagged").contains("is:flagged"));
        assert!(err("from:").contains("from:"));
        assert!(err("-before:2024-01-01").contains("-before:"));
        assert!(err("   ").contains("nothing to search for"));
    }
}
