//! The frame of every page: doctype, the Content-Security-Policy, the inline style, the top bar.

use super::assets;
use super::render::escape;

/// The policy of every page: nothing from the network, images only from the site's folder,
/// the inline style; scripts only where a page has its own inline script.
pub fn csp(with_script: bool) -> String {
    let script = if with_script {
        "script-src 'unsafe-inline'"
    } else {
        "script-src 'none'"
    };
    format!(
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; {script}; \
         base-uri 'none'; form-action 'none'"
    )
}

/// A whole page. `up` leads from the page to the site's top folder (`""` or `"../../"`);
/// `crumbs` are the top bar's links after the site's name, `(label, href)`.
pub fn document(
    title: &str,
    up: &str,
    crumbs: &[(String, Option<String>)],
    body: &str,
    script: Option<&str>,
) -> String {
    let mut out = String::with_capacity(body.len() + assets::CSS.len() + 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        csp(script.is_some())
    ));
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n");
    out.push_str("<meta name=\"generator\" content=\"matterbak export html\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape(title)));
    out.push_str("<style>\n");
    out.push_str(assets::CSS);
    out.push_str("</style>\n</head>\n<body>\n<nav class=\"top\">");
    out.push_str(&format!(
        "<a href=\"{}index.html\">Mattermost backup</a>",
        escape(up)
    ));
    for (label, href) in crumbs {
        out.push_str("<span class=\"sep\">/</span>");
        match href {
            Some(h) => out.push_str(&format!("<a href=\"{}\">{}</a>", escape(h), escape(label))),
            None => out.push_str(&format!("<span>{}</span>", escape(label))),
        }
    }
    out.push_str("</nav>\n<main>\n");
    out.push_str(body);
    out.push_str("</main>\n");
    if let Some(js) = script {
        out.push_str("<script>\n");
        out.push_str(js);
        out.push_str("</script>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}
