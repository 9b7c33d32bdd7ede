//! What the author of a post wrote or attached: the one rule that tells an edit from any other
//! change of a post, used by the backup (an edit keeps the earlier version in `history/`),
//! `verify` (a stored version equal to the next one is a phantom) and the exports (which show
//! only real edits).
//!
//! The rule (docs/format.md, "Edits"), from the server's `model.Post`:
//! - the text: `message_source` when the server sent one (the image proxy rewrites `message`
//!   and keeps the author's text there, `Post.MessageSource`), else `message`;
//! - `edit_at`, set by `UpdatePost` only when a user edits;
//! - the set of `file_ids` (order aside);
//! - `props.attachments`, the message attachments of integrations (what the exports render).
//!
//! Absent, `null` and empty are the same (servers up to 9.x leave out an empty `file_ids`,
//! `json:"file_ids,omitempty"`, later ones send `[]`). Anything else (`update_at`, metadata,
//! reactions, `is_pinned`, reply counts, `participants`, other props) is not authored content:
//! a change there updates the stored post without a version.

use std::collections::BTreeSet;

use serde_json::Value;

/// The authored content of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authored {
    text: String,
    edit_at: i64,
    file_ids: BTreeSet<String>,
    attachments: Value,
}

impl Authored {
    /// The authored content of a post's JSON (anything but an object reads as empty).
    pub fn of(post: &Value) -> Authored {
        let s = |k: &str| post.get(k).and_then(Value::as_str).unwrap_or("");
        let text = match s("message_source") {
            "" => s("message"),
            source => source,
        };
        let attachments = match post.pointer("/props/attachments") {
            Some(Value::Array(a)) if !a.is_empty() => Value::Array(a.clone()),
            Some(Value::Object(o)) if !o.is_empty() => Value::Object(o.clone()),
            Some(Value::String(t)) if !t.is_empty() => Value::String(t.clone()),
            _ => Value::Null,
        };
        Authored {
            text: text.to_string(),
            edit_at: post.get("edit_at").and_then(Value::as_i64).unwrap_or(0),
            file_ids: (post
                .get("file_ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten())
            .filter_map(|f| f.as_str().map(String::from))
            .collect(),
            attachments,
        }
    }

    /// The authored content of a post's bytes; `None` when they are not JSON (a file cut short
    /// by a power cut: nothing to compare).
    pub fn of_bytes(bytes: &[u8]) -> Option<Authored> {
        serde_json::from_slice::<Value>(bytes)
            .ok()
            .map(|v| Authored::of(&v))
    }
}

/// Whether `new` is an edit of `old`: what the author wrote or attached differs.
pub fn is_edit(old: &Value, new: &Value) -> bool {
    Authored::of(old) != Authored::of(new)
}

/// The earlier versions of a post that are real edits: each one's authored content differs
/// from the next version's (the last one's from the post itself). A version equal to the next
/// (recorded when a server upgrade changed a field's shape, or by an older matterbak) is a
/// phantom. Returns the real versions, oldest first, and how many phantoms were left out.
pub fn real_versions(versions: &[Value], post: &Value) -> (Vec<Value>, usize) {
    let mut real = Vec::new();
    let mut phantoms = 0;
    for (i, v) in versions.iter().enumerate() {
        let next = versions.get(i + 1).unwrap_or(post);
        if is_edit(v, next) {
            real.push(v.clone());
        } else {
            phantoms += 1;
        }
    }
    (real, phantoms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_null_and_empty_are_the_same() {
        let v9 = json!({"id": "p", "message": "hi", "update_at": 1});
        let v10 = json!({"id": "p", "message": "hi", "file_ids": [], "update_at": 2,
                         "edit_at": 0, "props": {}, "metadata": {"reactions": []},
                         "participants": null, "is_pinned": true, "reply_count": 3});
        let null = json!({"message": "hi", "file_ids": null, "props": {"attachments": null}});
        let empty = json!({"message": "hi", "props": {"attachments": []}, "edit_at": null});
        for other in [&v10, &null, &empty] {
            assert!(!is_edit(&v9, other), "{other}");
            assert!(!is_edit(other, &v9), "{other}");
        }
    }

    #[test]
    fn what_the_author_wrote_or_attached_is_an_edit() {
        let base = json!({"message": "hi", "file_ids": ["a", "b"], "edit_at": 0});
        for edited in [
            json!({"message": "hi!", "file_ids": ["a", "b"]}),
            json!({"message": "hi", "file_ids": ["a"]}),
            json!({"message": "hi", "file_ids": ["a", "b"], "edit_at": 5}),
            json!({"message": "hi", "file_ids": ["a", "b"], "props": {"attachments": [{"text": "x"}]}}),
        ] {
            assert!(is_edit(&base, &edited), "{edited}");
        }
        // Order of the attachments aside.
        assert!(!is_edit(
            &base,
            &json!({"message": "hi", "file_ids": ["b", "a"]})
        ));
    }

    #[test]
    fn the_image_proxy_rewrites_message_not_what_the_author_wrote() {
        let author = json!({"message": "![x](https://img/a.png)"});
        let proxied = json!({"message": "![x](https://mm/api/v4/image?url=https%3A%2F%2Fimg%2Fa.png)",
                             "message_source": "![x](https://img/a.png)"});
        assert!(!is_edit(&author, &proxied));
    }

    #[test]
    fn phantom_versions_are_left_out() {
        let post = json!({"message": "v2", "file_ids": []});
        let versions = [
            json!({"message": "v1"}),
            json!({"message": "v1", "file_ids": []}),
            json!({"message": "v2"}),
        ];
        let (real, phantoms) = real_versions(&versions, &post);
        assert_eq!(phantoms, 2);
        assert_eq!(real, vec![json!({"message": "v1", "file_ids": []})]);
    }
}
