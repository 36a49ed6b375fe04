//! `--registry`: container images move to the private registry; image-like
//! strings anywhere else are reported, never rewritten.
use std::borrow::Cow;
use std::ops::Range;

use crate::yaml::tree::Node;

use super::layer::{Layer, Op, Seg};
use crate::yaml::cst;
use crate::yaml::edit::{self, Keep};

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// `registry` + `/` + the last path component of `image` (keeps its tag or digest).
pub fn relocate(registry: &str, image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    format!("{registry}/{last}")
}

/// Rewrite the images of every container list of the pod spec `spec` (at
/// `spec_path` in the object). Returns how many image fields were found.
pub(crate) fn rewrite(
    layer: &mut Layer,
    spec: Node,
    spec_path: &[Seg],
    registry: &str,
    seen: &mut Vec<Range<usize>>,
) -> usize {
    let src = layer.text;
    let mut found = 0;
    for list in CONTAINER_LISTS {
        let Some(seq) = cst::get_value(spec, src, list) else {
            continue;
        };
        for (i, item) in cst::items(seq).into_iter().enumerate() {
            // (built only for an image that changes)
            let path = || {
                let mut path = Vec::with_capacity(spec_path.len() + 3);
                path.extend_from_slice(spec_path);
                path.extend([
                    Seg::Key(list.into()),
                    Seg::Index(i),
                    Seg::Key("image".into()),
                ]);
                path
            };
            if let Some(image) = shared_image(item, src) {
                // rewritten where the anchor is (when that is a container's image)
                if seen.contains(&image.byte_range()) {
                    found += 1;
                    if let Some(old) = cst::scalar_text(image, src) {
                        let new = relocate(registry, &old);
                        if new != old {
                            layer.intend(Op::Set(path(), new));
                        }
                    }
                }
                continue;
            }
            let Some(container) = item.filter(|n| cst::is_mapping(*n)) else {
                continue;
            };
            let Some(image) = cst::get_value(container, src, "image") else {
                continue;
            };
            found += 1;
            seen.push(image.byte_range());
            rewrite_image(layer, image, registry, path);
        }
    }
    found
}

/// The anchored container's image of `- *app` (the whole container is an
/// alias) or of a container whose image comes from `<<: *app`.
fn shared_image<'t>(item: Option<Node<'t>>, src: &str) -> Option<Node<'t>> {
    let alias = match item {
        Some(n) if n.kind() == "alias" => Some(n),
        Some(n) if cst::is_mapping(n) && cst::get(n, src, "image").is_none() => {
            cst::get_value(n, src, "<<").filter(|v| v.kind() == "alias")
        }
        _ => None,
    }?;
    cst::anchored(alias, src)
        .filter(|m| cst::is_mapping(*m))
        .and_then(|m| cst::get_value(m, src, "image"))
}

/// Relocate one container's `image` (at `path()`).
fn rewrite_image(layer: &mut Layer, image: Node, registry: &str, path: impl FnOnce() -> Vec<Seg>) {
    let src = layer.text;
    // `image: *ref` resolves through its anchor and is replaced by the
    // new value (the anchored node may not be an image at all).
    let alias = image.kind() == "alias";
    let old = if alias {
        cst::anchored(image, src).and_then(|v| cst::scalar_str(v, src))
    } else {
        cst::scalar_str(image, src).or_else(|| cst::block_scalar_text(image, src).map(Cow::Owned))
    };
    let Some(old) = old else {
        layer.warn(
            image.start_byte(),
            "image is not a single-line string (or an alias without its anchor); left unchanged"
                .into(),
        );
        return;
    };
    let new = relocate(registry, &old);
    if new == old && !alias {
        return;
    }
    fn show(s: &str) -> Cow<'_, str> {
        if s.contains(|c: char| c.is_control()) {
            Cow::Owned(format!("{s:?}"))
        } else {
            Cow::Borrowed(s)
        }
    }
    let what = format!(
        "image {} -> {}{}",
        show(&old),
        show(&new),
        if alias { " (was an alias)" } else { "" }
    );
    // a block scalar (`image: >-`) becomes a one-line scalar; its trailing
    // line breaks stay
    let splice = edit::replace_scalar(&layer.doc(), image, &new, Keep::Quotes);
    layer.splice(splice, what);
    layer.intend(Op::Set(path(), new));
}

/// True for strings shaped like `host.domain[:port]/path:tag` or `...@sha256:...`.
pub fn looks_like_image(s: &str) -> bool {
    if s.contains("://") || s.starts_with(['-', '/', '.']) || s.chars().any(|c| c.is_whitespace()) {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
    {
        return false;
    }
    let Some((host, rest)) = s.split_once('/') else {
        return false;
    };
    let host_like = host == "localhost" || host.contains('.') || host.contains(':');
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let tagged = last.contains("@sha256:")
        || last
            .split_once(':')
            .is_some_and(|(n, t)| !n.is_empty() && !t.is_empty());
    host_like && tagged && !rest.is_empty()
}

/// A cheap textual pre-check for [`warn_lookalikes`]: does any token of
/// `text` whose `/` is outside the `skip` ranges look like an image
/// reference? (Every scalar the walk would warn about has such a token.)
pub(crate) fn any_lookalike_text(text: &str, skip: &[Range<usize>]) -> bool {
    // only tokens with a `/` can be one: look around each `/` (most
    // documents have few), not at every token; bytes are read as they
    // are, a character decoded only where one is not ASCII
    let bytes = text.as_bytes();
    let ascii_separator = |b: u8| {
        matches!(
            b,
            b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' // (char::is_whitespace)
                | b'=' | b'"' | b'\'' | b',' | b';' | b'[' | b']' | b'{' | b'}' | b'#'
        )
    };
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'/', &bytes[from..]).map(|i| from + i) {
        let mut start = at;
        while start > 0 {
            let b = bytes[start - 1];
            if b < 0x80 {
                if ascii_separator(b) {
                    break;
                }
                start -= 1;
            } else {
                let begins = text.floor_char_boundary(start - 1);
                if text[begins..start].starts_with(char::is_whitespace) {
                    break;
                }
                start = begins;
            }
        }
        let mut end = at;
        while end < text.len() {
            let b = bytes[end];
            if b < 0x80 {
                if ascii_separator(b) {
                    break;
                }
                end += 1;
            } else {
                let c = text[end..].chars().next().unwrap_or(' ');
                if c.is_whitespace() {
                    break;
                }
                end += c.len_utf8();
            }
        }
        if !skip.iter().any(|s| s.contains(&at))
            && looks_like_image(text[start..end].trim_end_matches(':'))
        {
            return true;
        }
        from = end.max(at + 1);
    }
    false
}

/// Warn about image-like strings outside container image fields.
pub(crate) fn warn_lookalikes(layer: &mut Layer, root: Node, skip: &[Range<usize>]) {
    let src = layer.text;
    if !any_lookalike_text(src, skip) {
        // (the common case: the only image-like strings are the image fields)
        return;
    }
    let inside = |r: Range<usize>| skip.iter().any(|s| s.start <= r.start && r.end <= s.end);
    // every scalar warned about has a `/` in its text, outside the image
    // fields: the walk goes only into nodes that hold one
    let slashes: Vec<usize> = src
        .match_indices('/')
        .map(|(i, _)| i)
        .filter(|i| !skip.iter().any(|s| s.contains(i)))
        .collect();
    let holds_slash = |r: Range<usize>| {
        let i = slashes.partition_point(|&p| p < r.start);
        slashes.get(i).is_some_and(|&p| p < r.end)
    };
    let mut found = Vec::new();
    cst::walk(root, |n| {
        let range = n.byte_range();
        if !holds_slash(range.clone()) || inside(range) {
            return cst::Walk::Skip;
        }
        match n.kind() {
            "plain_scalar" | "single_quote_scalar" | "double_quote_scalar" => {
                let raw = &src[n.byte_range()];
                if raw.contains('/') {
                    if let Some(s) = cst::scalar_text(n, src).filter(|s| looks_like_image(s)) {
                        found.push((n.start_byte(), s));
                    }
                }
                cst::Walk::Skip
            }
            "block_scalar" => {
                let raw = &src[n.byte_range()];
                let mut offset = n.start_byte();
                for piece in raw.split_inclusive(|c: char| {
                    c.is_whitespace() || matches!(c, '=' | '"' | '\'' | ',' | ';')
                }) {
                    let token = piece.trim_end_matches(|c: char| {
                        c.is_whitespace() || matches!(c, '=' | '"' | '\'' | ',' | ';')
                    });
                    if looks_like_image(token) {
                        found.push((offset, token.to_string()));
                    }
                    offset += piece.len();
                }
                cst::Walk::Skip
            }
            _ => cst::Walk::Descend,
        }
    });
    for (offset, s) in found {
        layer.warn(
            offset,
            format!("{s:?} looks like an image but is not a container image field; not rewritten"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What [`any_lookalike_text`] answers, the plain way: every token.
    fn any_token_looks_like_an_image(text: &str) -> bool {
        text.split(|c: char| c.is_whitespace() || "=\"',;[]{}#".contains(c))
            .any(|t| t.contains('/') && looks_like_image(t.trim_end_matches(':')))
    }

    proptest! {
        #[test]
        fn lookalike_precheck_reads_every_token(
            text in "([a-z.:/@=\"' #{}\u{3000}\u{e9}\u{85}\u{a0}\t\u{b}\n-]|r.io/a:1|x/y:z){0,40}"
        ) {
            prop_assert_eq!(any_lookalike_text(&text, &[]), any_token_looks_like_an_image(&text), "{:?}", text);
        }
    }

    #[test]
    fn lookalike_precheck() {
        for (text, want) in [
            ("image: registry.example.com:5000/shop/cart:1.4.2\n", true),
            ("note: see a.b/c:d", true),
            ("url: https://a.b/c:d", false),
            ("path: /usr/lib/x:y", false),
            ("k: \u{e9}a.b/c:d", false),
            ("k:\u{3000}a.b/c:d\u{3000}", true),
            ("a/b/c/d/e", false),
            ("", false),
        ] {
            assert_eq!(any_lookalike_text(text, &[]), want, "{text:?}");
            assert_eq!(any_token_looks_like_an_image(text), want, "{text:?}");
        }
    }

    /// Tokens whose `/` lies in a skipped range (the image fields) do not
    /// count; one elsewhere does.
    #[test]
    fn lookalike_precheck_skips_image_fields() {
        let text = "image: r.io/a:1\nnote: \"q.io/b:2\"\n";
        let image = text.find("r.io").unwrap()..text.find("\nnote").unwrap();
        let note = text.find("\"q.io").unwrap()..text.len() - 1;
        assert!(any_lookalike_text(text, std::slice::from_ref(&image)));
        assert!(any_lookalike_text(text, std::slice::from_ref(&note)));
        assert!(!any_lookalike_text(text, &[image.clone(), note]));
        assert!(!any_lookalike_text(&text[..image.end], &[image]));
    }

    #[test]
    fn relocation_keeps_name_tag_and_digest() {
        let r = "harbor.example.com:5000/apm";
        assert_eq!(
            relocate(r, "registry.tingyun.com/tingyun/k8s-uniagent:2.5.3.0"),
            "harbor.example.com:5000/apm/k8s-uniagent:2.5.3.0"
        );
        assert_eq!(
            relocate(r, "nginx:1.25"),
            "harbor.example.com:5000/apm/nginx:1.25"
        );
        assert_eq!(
            relocate(r, "localhost:5000/a/b@sha256:abcd"),
            "harbor.example.com:5000/apm/b@sha256:abcd"
        );
        assert_eq!(
            relocate(r, "busybox"),
            "harbor.example.com:5000/apm/busybox"
        );
    }

    #[test]
    fn image_lookalikes() {
        assert!(looks_like_image("registry.tingyun.com/tingyun/agent:1.0"));
        assert!(looks_like_image("localhost/a@sha256:00"));
        assert!(!looks_like_image("-javaagent:/tingyun-agent/java/x.jar"));
        assert!(!looks_like_image("https://a.com/x:1"));
        assert!(!looks_like_image("dc1.tingyun.com:443"));
        assert!(!looks_like_image("/etc/tingyun/mutate.yaml"));
        assert!(!looks_like_image("app/name"));
    }
}
