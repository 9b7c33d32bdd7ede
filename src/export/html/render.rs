//! Mattermost-flavoured Markdown to HTML.
//!
//! CommonMark (pulldown-cmark) with tables, `~~strike~~`, task lists and a line break for every
//! newline, as Mattermost shows messages. On top of that, in text outside code: bare URLs become
//! links, `@user` mentions and `~channel` links are marked up, `:emoji:` shortcodes become custom
//! emoji images or Unicode. Raw HTML in a message is shown as text; images in Markdown are shown
//! as links (the site never loads anything from the network); only `http(s)`, `ftp`, `mailto`
//! and `tel` links are kept as links.

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

use super::emoji;

/// What the renderer needs to know about the backup, for the page it renders into.
pub trait Resolve {
    /// The display name of a user, by username (lowercase).
    fn user(&self, username: &str) -> Option<String>;
    /// The href and title of a channel page, by channel name (lowercase).
    fn channel(&self, name: &str) -> Option<(String, String)>;
    /// The href of a custom emoji's image, by emoji name.
    fn custom_emoji(&self, name: &str) -> Option<String>;
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    escape_into(&mut out, s);
    out
}

pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A message as HTML.
pub fn markdown(src: &str, r: &dyn Resolve) -> String {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        // With subscripts on, only `~~x~~` is strikethrough; single tildes (`~channel`) are
        // turned back into text below, as Mattermost keeps them.
        | Options::ENABLE_SUBSCRIPT
        | Options::ENABLE_TASKLISTS;
    let events = normalise(Parser::new_ext(src, opts));
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut code_block = 0usize;
    // For each open link or image: whether it was written as `<a>` (else a `<span>`).
    let mut links: Vec<bool> = Vec::new();
    for ev in events {
        match ev {
            Event::Start(Tag::CodeBlock(k)) => {
                code_block += 1;
                out.push(Event::Start(Tag::CodeBlock(k)));
            }
            Event::End(TagEnd::CodeBlock) => {
                code_block = code_block.saturating_sub(1);
                out.push(Event::End(TagEnd::CodeBlock));
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            }) => {
                let (html, is_a) = link_open(link_type, &dest_url, &title, "");
                links.push(is_a);
                out.push(Event::InlineHtml(html.into()));
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                ..
            }) => {
                // Never loaded: shown as a link to the image, marked as one.
                let (mut html, is_a) = link_open(link_type, &dest_url, &title, "image-link");
                html.push_str("🖼\u{a0}");
                links.push(is_a);
                out.push(Event::InlineHtml(html.into()));
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                let close = if links.pop().unwrap_or(false) {
                    "</a>"
                } else {
                    "</span>"
                };
                out.push(Event::InlineHtml(close.into()));
            }
            Event::Text(t) if code_block > 0 => out.push(Event::Text(t)),
            Event::Text(t) => {
                out.push(Event::InlineHtml(decorate(&t, !links.is_empty(), r).into()))
            }
            e => out.push(e),
        }
    }
    let mut html = String::with_capacity(src.len() * 2);
    html::push_html(&mut html, out.into_iter());
    html
}

/// Raw HTML becomes text, subscripts become `~` again, newlines become line breaks, and
/// adjacent text is merged (so that `@user`, URLs and `:emoji:` are seen whole).
fn normalise<'a>(parser: Parser<'a>) -> Vec<Event<'a>> {
    let mut out: Vec<Event<'a>> = Vec::new();
    let push_text = |out: &mut Vec<Event<'a>>, s: &str| match out.last_mut() {
        Some(Event::Text(t)) => {
            let mut m = t.to_string();
            m.push_str(s);
            *t = CowStr::from(m);
        }
        _ => out.push(Event::Text(CowStr::from(s.to_string()))),
    };
    for ev in parser {
        match ev {
            Event::Text(t) => push_text(&mut out, &t),
            Event::Start(Tag::Subscript) | Event::End(TagEnd::Subscript) => {
                push_text(&mut out, "~")
            }
            Event::InlineHtml(t) => push_text(&mut out, &t),
            Event::Start(Tag::HtmlBlock) => out.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => {
                if matches!(out.last(), Some(Event::HardBreak)) {
                    out.pop();
                }
                out.push(Event::End(TagEnd::Paragraph));
            }
            Event::Html(t) => {
                let line = t.strip_suffix('\n').unwrap_or(&t);
                push_text(&mut out, line);
                if t.ends_with('\n') {
                    out.push(Event::HardBreak);
                }
            }
            Event::SoftBreak => out.push(Event::HardBreak),
            Event::InlineMath(t) | Event::DisplayMath(t) | Event::FootnoteReference(t) => {
                push_text(&mut out, &t)
            }
            e => out.push(e),
        }
    }
    out
}

/// The opening tag of a link: `<a href>` for a safe URL, else a `<span>` that shows the URL as
/// its tooltip. Returns the HTML and whether it is an `<a>`.
fn link_open(kind: LinkType, dest: &str, title: &str, class: &str) -> (String, bool) {
    let url = if kind == LinkType::Email {
        format!("mailto:{dest}")
    } else {
        dest.to_string()
    };
    let mut html = String::new();
    let class_attr = if class.is_empty() {
        String::new()
    } else {
        format!(" class=\"{class}\"")
    };
    if safe_url(&url) {
        html.push_str("<a href=\"");
        escape_into(&mut html, &url);
        html.push('"');
        if !title.is_empty() {
            html.push_str(" title=\"");
            escape_into(&mut html, title);
            html.push('"');
        }
        html.push_str(&class_attr);
        html.push_str(" rel=\"noreferrer noopener\">");
        (html, true)
    } else {
        html.push_str("<span");
        html.push_str(&class_attr);
        html.push_str(" title=\"");
        escape_into(&mut html, &url);
        html.push_str("\">");
        (html, false)
    }
}

/// Links that may be followed from the site: to the web or to a mail or phone program.
/// Anything else (`javascript:`, `data:`, `file:`, relative paths of the server) is not a link.
pub fn safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "ftp://", "mailto:", "tel:"]
        .iter()
        .any(|p| lower.starts_with(p) && lower.len() > p.len())
}

/// Text outside code: URLs (unless inside a link), mentions, channel links and emoji.
fn decorate(text: &str, in_link: bool, r: &dyn Resolve) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    if !in_link {
        while let Some((start, end)) = find_url(rest) {
            words(&mut out, &rest[..start], in_link, r);
            let url = &rest[start..end];
            let href = if url.to_ascii_lowercase().starts_with("www.") {
                format!("http://{url}")
            } else {
                url.to_string()
            };
            out.push_str("<a href=\"");
            escape_into(&mut out, &href);
            out.push_str("\" rel=\"noreferrer noopener\">");
            escape_into(&mut out, url);
            out.push_str("</a>");
            rest = &rest[end..];
        }
    }
    words(&mut out, rest, in_link, r);
    out
}

/// The next bare URL in `s` as a byte range: `http://`, `https://`, `ftp://` or `www.` at the
/// start of a word, up to white space or `<`, `>`, `"`, without trailing punctuation (`.`, `,`,
/// quotes, ...) or an unbalanced closing parenthesis.
pub fn find_url(s: &str) -> Option<(usize, usize)> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while from < s.len() {
        let start = ["http://", "https://", "ftp://", "www."]
            .iter()
            .filter_map(|p| lower[from..].find(p).map(|i| (from + i, p.len())))
            .min()?;
        let (i, plen) = start;
        let word_start = s[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '/' && c != '.');
        let mut end = s[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .map_or(s.len(), |n| i + n);
        while let Some(last) = s[i..end].chars().next_back() {
            let unbalanced =
                last == ')' && s[i..end].matches('(').count() < s[i..end].matches(')').count();
            let punct = last != ')' && !last.is_alphanumeric() && !"/-+=&#%$@".contains(last);
            if punct || unbalanced {
                end -= last.len_utf8();
            } else {
                break;
            }
        }
        if word_start && end > i + plen {
            return Some((i, end));
        }
        from = i + plen;
    }
    None
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// Mentions, channel links and emoji in a piece of text without URLs.
fn words(out: &mut String, s: &str, in_link: bool, r: &dyn Resolve) {
    let mut i = 0;
    let b = s.as_bytes();
    while i < s.len() {
        let c = b[i];
        let at_word_start = i == 0 || {
            let prev = s[..i].chars().next_back().unwrap_or(' ');
            !prev.is_alphanumeric() && prev != '_'
        };
        if (c == b'@' || c == b'~') && at_word_start {
            let name_len = s[i + 1..]
                .find(|ch: char| !is_name_char(ch))
                .unwrap_or(s.len() - i - 1);
            // A sentence's full stop is not part of the name.
            let name = s[i + 1..i + 1 + name_len].trim_end_matches('.');
            if !name.is_empty() {
                let lower = name.to_ascii_lowercase();
                let end = i + 1 + name.len();
                if c == b'@' {
                    if let Some(display) = r.user(&lower) {
                        out.push_str("<span class=\"mention\" title=\"");
                        escape_into(out, &display);
                        out.push_str("\">");
                        escape_into(out, &s[i..end]);
                        out.push_str("</span>");
                        i = end;
                        continue;
                    }
                    if matches!(lower.as_str(), "all" | "channel" | "here") {
                        out.push_str("<span class=\"mention special\">");
                        escape_into(out, &s[i..end]);
                        out.push_str("</span>");
                        i = end;
                        continue;
                    }
                } else if let Some((href, title)) = r.channel(&lower).filter(|_| !in_link) {
                    out.push_str("<a class=\"channel-link\" href=\"");
                    escape_into(out, &href);
                    out.push_str("\" title=\"");
                    escape_into(out, &title);
                    out.push_str("\">");
                    escape_into(out, &s[i..end]);
                    out.push_str("</a>");
                    i = end;
                    continue;
                }
            }
        }
        if c == b':' {
            let name_len = s[i + 1..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '+' | '-')))
                .unwrap_or(s.len() - i - 1);
            let close = i + 1 + name_len;
            if name_len > 0 && b.get(close) == Some(&b':') {
                let name = &s[i + 1..close];
                if emoji_html(out, name, r) {
                    i = close + 1;
                    continue;
                }
            }
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        escape_into(out, &s[i..i + ch.len_utf8()]);
        i += ch.len_utf8();
    }
}

/// Writes an emoji: the custom emoji's image, or the standard emoji as Unicode. Returns false
/// (writing nothing) for an unknown name.
pub fn emoji_html(out: &mut String, name: &str, r: &dyn Resolve) -> bool {
    if let Some(src) = r.custom_emoji(name) {
        out.push_str("<img class=\"emoji\" src=\"");
        escape_into(out, &src);
        out.push_str("\" alt=\":");
        escape_into(out, name);
        out.push_str(":\" title=\":");
        escape_into(out, name);
        out.push_str(":\">");
        return true;
    }
    if let Some(u) = emoji::standard(name) {
        out.push_str("<span class=\"emoji\" title=\":");
        escape_into(out, name);
        out.push_str(":\">");
        out.push_str(u);
        out.push_str("</span>");
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Resolve for Fake {
        fn user(&self, u: &str) -> Option<String> {
            (u == "bob").then(|| "Bob <Builder>".to_string())
        }
        fn channel(&self, n: &str) -> Option<(String, String)> {
            (n == "town-square").then(|| ("../ch1/1.html".into(), "Town Square".into()))
        }
        fn custom_emoji(&self, n: &str) -> Option<String> {
            (n == "partyparrot").then(|| "../../emoji/e1.gif".into())
        }
    }

    fn md(s: &str) -> String {
        markdown(s, &Fake)
    }

    #[test]
    fn raw_html_is_text() {
        let h = md("<script>alert(1)</script> and <b>bold</b>");
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<b>"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{h}");
        let block = md("<div onclick=\"x()\">\nhi\n</div>");
        assert!(!block.contains("<div"), "{block}");
        assert!(
            block.contains("&lt;div onclick=&quot;x()&quot;&gt;"),
            "{block}"
        );
        assert!(md("x <img src=x onerror=alert(1)>").contains("&lt;img src=x"));
    }

    #[test]
    fn dangerous_links_are_not_links() {
        let h = md("[click](javascript:alert(1)) [f](file:///etc/passwd) [rel](/team/pl/x)");
        assert!(!h.contains("href"), "{h}");
        assert!(
            h.contains("<span title=\"javascript:alert(1)\">click</span>"),
            "{h}"
        );
        let ok = md("[site](https://example.org/a?b=1&c=\"2\")");
        assert!(
            ok.contains("<a href=\"https://example.org/a?b=1&amp;c=&quot;2&quot;\""),
            "{ok}"
        );
    }

    #[test]
    fn images_are_links_never_loaded() {
        let h = md("![a cat](https://example.org/cat.png)");
        assert!(!h.contains("<img"), "{h}");
        assert!(
            h.contains("<a href=\"https://example.org/cat.png\" class=\"image-link\""),
            "{h}"
        );
        assert!(h.contains("a cat</a>"), "{h}");
    }

    #[test]
    fn code_blocks_and_inline_code() {
        let h = md("```rust\nfn main() { let x = \"<b>\"; }\n```");
        assert!(h.contains("<pre><code class=\"language-rust\">"), "{h}");
        assert!(h.contains("&lt;b&gt;"), "{h}");
        // Nothing is decorated inside code.
        let c = md("`@bob :+1: https://x.org ~town-square`\n\n```\n@bob :tada:\n```");
        assert!(
            c.contains("<code>@bob :+1: https://x.org ~town-square</code>"),
            "{c}"
        );
        assert!(c.contains("@bob :tada:\n</code>"), "{c}");
        assert!(
            !c.contains("mention") && !c.contains("emoji") && !c.contains("href"),
            "{c}"
        );
        let indented = md("    <i>indented</i>");
        assert!(indented.contains("<pre><code>&lt;i&gt;"), "{indented}");
    }

    #[test]
    fn emphasis_strike_quotes_lists_tables() {
        let h = md("**bold** _it_ ~~gone~~\n\n> quoted\n\n- a\n- b\n\n1. one\n\n| h1 | h2 |\n|---|:-:|\n| c | d |");
        for want in [
            "<strong>bold</strong>",
            "<em>it</em>",
            "<del>gone</del>",
            "<blockquote>",
            "<ul>\n<li>a</li>",
            "<ol>\n<li>one</li>",
            "<table>",
            "<th>h1</th>",
            "<td style=\"text-align: center\">d</td>",
        ] {
            assert!(h.contains(want), "{want} missing in {h}");
        }
    }

    #[test]
    fn newlines_are_line_breaks() {
        assert_eq!(md("one\ntwo"), "<p>one<br />\ntwo</p>\n");
    }

    #[test]
    fn mentions() {
        let h = md("hi @bob, @BOB. and @nobody and @channel; mail bob@example.org");
        assert!(
            h.contains("<span class=\"mention\" title=\"Bob &lt;Builder&gt;\">@bob</span>,"),
            "{h}"
        );
        assert!(h.contains(">@BOB</span>."), "{h}");
        assert!(h.contains("and @nobody and"), "{h}");
        assert!(
            h.contains("<span class=\"mention special\">@channel</span>"),
            "{h}"
        );
        assert!(h.contains("mail bob@example.org"), "{h}");
    }

    #[test]
    fn channel_links() {
        let h = md("see ~town-square and ~unknown and ~~struck~~");
        assert!(
            h.contains("<a class=\"channel-link\" href=\"../ch1/1.html\" title=\"Town Square\">~town-square</a>"),
            "{h}"
        );
        assert!(h.contains("~unknown"), "{h}");
        assert!(h.contains("<del>struck</del>"), "{h}");
        // A single-tilde pair is not strikethrough in Mattermost.
        assert!(md("~a~").contains("~a~"));
    }

    #[test]
    fn emoji() {
        let h = md("party :partyparrot: :+1: :tada: :no_such: 10:30:00");
        assert!(
            h.contains("<img class=\"emoji\" src=\"../../emoji/e1.gif\" alt=\":partyparrot:\""),
            "{h}"
        );
        assert!(
            h.contains("<span class=\"emoji\" title=\":+1:\">👍</span>"),
            "{h}"
        );
        assert!(h.contains("🎉"), "{h}");
        assert!(h.contains(":no_such:"), "{h}");
        assert!(h.contains("10:30:00"), "{h}");
    }

    #[test]
    fn autolinks() {
        let h = md(
            "see https://example.org/a_b?q=1. and (www.example.com) or http://x.org/wiki/A_(b)!",
        );
        assert!(
            h.contains("<a href=\"https://example.org/a_b?q=1\" rel=\"noreferrer noopener\">https://example.org/a_b?q=1</a>."),
            "{h}"
        );
        assert!(h.contains("(<a href=\"http://www.example.com\""), "{h}");
        assert!(h.contains(">http://x.org/wiki/A_(b)</a>!"), "{h}");
        // An explicit link is not linked twice; a URL in code is not linked.
        let l = md("[https://a.org](https://a.org) <https://b.org>");
        assert_eq!(l.matches("<a ").count(), 2, "{l}");
        assert!(!md("no link: xhttp://a.org").contains("href"));
    }

    #[test]
    fn url_finder_edges() {
        assert_eq!(find_url("http://"), None);
        assert_eq!(find_url("a https://x.org"), Some((2, 15)));
        assert_eq!(find_url("«https://x.org»"), Some((2, 15)));
        assert_eq!(find_url("https://x.org/é ok"), Some((0, 16)));
    }
}
