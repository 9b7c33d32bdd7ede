//! Words of a message as search sees them: a word is a run of letters, digits, `_` and
//! combining marks; words compare case- and accent-insensitively (Unicode NFKD, combining marks
//! dropped, lowercased). The query's words and a post's message go through the same [`words`],
//! so they always agree.

use std::ops::Range;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// A word of a text: its folded form, where it is in the text, and whether a `#` stands
/// right before it (a hashtag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub folded: String,
    pub at: Range<usize>,
    pub hashtag: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || is_combining_mark(c)
}

/// `s` folded: NFKD, combining marks dropped, lowercased (`Éé` → `ee`).
pub fn fold(s: &str) -> String {
    s.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of `text`, in order.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    let mut prev: Option<char> = None;
    let mut before_start: Option<char> = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let w = i < text.len() && is_word_char(c);
        match (w, start) {
            (true, None) => {
                start = Some(i);
                before_start = prev;
            }
            (false, Some(s)) => {
                let folded = fold(&text[s..i]);
                if !folded.is_empty() {
                    out.push(Word {
                        folded,
                        at: s..i,
                        hashtag: before_start == Some('#'),
                    });
                }
                start = None;
            }
            _ => {}
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fold_case_and_accents_and_know_hashtags() {
        let w = words("Crème BRÛLÉE, #naïve x_y-z ﬁne e\u{301}t\u{e9}");
        let f: Vec<&str> = w.iter().map(|w| w.folded.as_str()).collect();
        assert_eq!(f, ["creme", "brulee", "naive", "x_y", "z", "fine", "ete"]);
        assert!(w[2].hashtag && !w[0].hashtag && !w[3].hashtag);
        assert_eq!(&"Crème BRÛLÉE"[w[1].at.clone()], "BRÛLÉE");
        assert_eq!(fold("Ärger"), "arger");
        assert!(words(" -- !").is_empty());
    }
}
