//! Texts that hold a Secret. The rule for messages: an error about a text
//! that declares `kind: Secret` (a document, or a `kind: List` with a
//! Secret item) quotes none of that text: not a value, not a snippet, not
//! a character. It says what is wrong and where (line, column); key names
//! may be named (kubectl shows them too, e.g. `kubectl describe secret`).
//! Read textually, so that it works on text that does not parse.

/// Whether `text` declares `kind: Secret` anywhere: `kind: Secret`,
/// `kind: "Secret"`, `"kind": "Secret"` (JSON), `{kind: Secret, ...}`.
/// Errs on the safe side (a `kind: Secret` inside a comment counts).
pub fn declares_secret(text: &str) -> bool {
    let word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    text.match_indices("Secret").any(|(i, w)| {
        let after = &text[i + w.len()..];
        let after = after.strip_prefix(['"', '\'']).unwrap_or(after);
        if after.starts_with(word_char) {
            return false;
        }
        let before = text[..i].trim_end_matches([' ', '\t']);
        let before = before.strip_suffix(['"', '\'']).unwrap_or(before);
        let Some(before) = before.trim_end_matches([' ', '\t']).strip_suffix(':') else {
            return false;
        };
        let before = before.trim_end_matches([' ', '\t']);
        let before = before.strip_suffix(['"', '\'']).unwrap_or(before);
        before
            .strip_suffix("kind")
            .is_some_and(|b| !b.ends_with(word_char))
    })
}

/// `msg`, a parser message about `text`, as it may be shown: without the
/// input character it quotes when `text` declares a Secret.
pub fn message_about(text: &str, msg: &str) -> String {
    if declares_secret(text) {
        unquoted(msg)
    } else {
        msg.to_string()
    }
}

/// A parser message with any input character it quotes taken out
/// (saphyr's "unexpected character: `@'" becomes "unexpected character").
pub fn unquoted(msg: &str) -> String {
    const HEAD: &str = "unexpected character";
    let Some(i) = msg.find(HEAD) else {
        return msg.to_string();
    };
    let rest = &msg[i + HEAD.len()..];
    let Some(quoted) = rest.strip_prefix(": `") else {
        return msg.to_string();
    };
    // the quoted character, then `'`
    let mut chars = quoted.char_indices();
    let end = match (chars.next(), chars.next()) {
        (Some(_), Some((j, '\''))) => j + 1,
        _ => return msg.to_string(),
    };
    format!("{}{HEAD}{}", &msg[..i], &quoted[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_kinds_are_recognised_in_every_spelling() {
        for t in [
            "apiVersion: v1\nkind: Secret\n",
            "kind:   \"Secret\"  # x\n",
            "kind: 'Secret'\n",
            "{\"apiVersion\": \"v1\", \"kind\": \"Secret\"}",
            "items:\n- {kind: Secret, data: {a: b}}\n",
            "kind:\tSecret",
        ] {
            assert!(declares_secret(t), "{t:?}");
        }
        for t in [
            "kind: Deployment\nspec:\n  imagePullSecrets: [{name: Secret}]\n",
            "kind: SecretStore\n",
            "subkind: Secret\n",
            "kind: ConfigMap\ndata:\n  note: a Secret\n",
            "kind: ServiceAccount\nsecrets: []\n",
        ] {
            assert!(!declares_secret(t), "{t:?}");
        }
    }

    #[test]
    fn quoted_characters_are_taken_out() {
        assert_eq!(
            unquoted("unexpected character: `@'"),
            "unexpected character"
        );
        assert_eq!(
            unquoted("invalid YAML: unexpected character: `é' here"),
            "invalid YAML: unexpected character here"
        );
        assert_eq!(
            unquoted("mapping values are not allowed"),
            "mapping values are not allowed"
        );
    }
}
