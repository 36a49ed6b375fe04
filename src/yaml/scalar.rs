//! The one quoting policy: what a plain (unquoted) scalar means to kubectl,
//! and when a string must be quoted so that it stays a string.
//!
//! kubectl reads manifests with sigs.k8s.io/yaml, which resolves plain
//! scalars with YAML 1.1 rules (go-yaml v2): `on`, `NO`, `y`, `~`, `0b101`,
//! `0x10`, `012`, `1_000`, `1e3`, `.inf` are not strings. YAML 1.2 tools
//! (and other readers of the same file) resolve a slightly different set,
//! and YAML 1.1 itself adds sexagesimal numbers and timestamps. A string we
//! write is therefore left plain only when it is a string under every one
//! of these readings; [`kubectl`] gives the exact YAML 1.1 resolution used
//! to compare meanings.

/// What a plain scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Plain {
    Str,
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A timestamp: go-yaml v2 hands it to kubectl as the string written,
    /// but YAML 1.1 readers see a date.
    Timestamp,
    /// `<<`, the merge key.
    Merge,
}

/// How kubectl (sigs.k8s.io/yaml, go-yaml v2, YAML 1.1) resolves `s` written plain.
pub fn kubectl(s: &str) -> Plain {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Plain::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Plain::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        "<<" => return Plain::Merge,
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Plain::Str;
    }
    if first.is_ascii_digit() && is_timestamp(s) {
        return Plain::Timestamp;
    }
    // (a copy only when there are `_` separators to drop)
    let plain: std::borrow::Cow<str> = if s.contains('_') {
        s.chars().filter(|c| *c != '_').collect::<String>().into()
    } else {
        s.into()
    };
    if let Some(i) = go_parse_int(&plain) {
        return Plain::Int(i);
    }
    if is_float_12(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Plain::Float(f);
        }
    }
    if let Some(bits) = plain.strip_prefix("0b") {
        if let Ok(i) = i128::from_str_radix(bits, 2) {
            return Plain::Int(i);
        }
    }
    if let Some(bits) = plain.strip_prefix("-0b") {
        if let Ok(i) = i128::from_str_radix(bits, 2) {
            return Plain::Int(-i);
        }
    }
    Plain::Str
}

/// How a YAML 1.2 (core schema) reader resolves `s` written plain.
pub fn yaml12(s: &str) -> Plain {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Plain::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Plain::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Plain::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let digits = |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c.is_digit(radix));
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits(unsigned, 10) {
        return unsigned
            .parse::<i128>()
            .map(|i| Plain::Int(if s.starts_with('-') { -i } else { i }))
            .unwrap_or(Plain::Float(0.0));
    }
    if let Some(o) = s.strip_prefix("0o").filter(|t| digits(t, 8)) {
        return i128::from_str_radix(o, 8).map_or(Plain::Float(0.0), Plain::Int);
    }
    if let Some(x) = s.strip_prefix("0x").filter(|t| digits(t, 16)) {
        return i128::from_str_radix(x, 16).map_or(Plain::Float(0.0), Plain::Int);
    }
    if is_float_12(s) {
        return Plain::Float(s.parse().unwrap_or(0.0));
    }
    Plain::Str
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (the YAML 1.2 core
/// float, also go-yaml v2's float pattern).
fn is_float_12(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && matches!(b[i], b'-' | b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'-' | b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint`: sign, then `0x`, `0o`,
/// `0b`, a leading `0` (octal) or decimal.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -v } else { v };
    // int64 or uint64 range, as go-yaml tries both
    (v >= i64::MIN as i128 && v <= u64::MAX as i128).then_some(v)
}

/// `YYYY-M-D` optionally followed by a time (go-yaml v2 and YAML 1.1 timestamps).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, min: usize, max: usize| -> Option<usize> {
        let n = b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        (n >= min && n <= max).then_some(from + n)
    };
    let Some(i) = num(0, 4, 4) else { return false };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    let Some(i) = num(i + 1, 1, 2) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    let Some(i) = num(i + 1, 1, 2) else {
        return false;
    };
    // a date, or a date and something time-like after `T`, `t` or spaces
    i == b.len() || matches!(b[i], b'T' | b't' | b' ' | b'\t')
}

/// True when `s` written plain is a string under YAML 1.1 (kubectl), YAML
/// 1.2, and the YAML 1.1 forms go-yaml does not implement (sexagesimal
/// numbers like `1:20`, `=`): the test for "this plain value is the string".
pub fn is_plain_string(s: &str) -> bool {
    if kubectl(s) != Plain::Str || yaml12(s) != Plain::Str || s == "=" {
        return false;
    }
    // Other YAML 1.1 readers (PyYAML, ruamel) also read sexagesimal
    // numbers, `_` inside numbers and yes/no/on/off in any case: a string
    // that starts like a number and holds only number characters is treated
    // as one.
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    ) {
        return false;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let numberish = body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "xXoO_.:+-".contains(c));
    !numberish
}

/// True when `s` can be written as a plain scalar and reads back as the
/// same string: names, image references, host:port lists; never booleans,
/// numbers, nulls or timestamps, nor anything YAML syntax could take apart.
pub fn is_plain_safe(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '.');
    let chars_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/:@+".contains(c));
    first_ok && chars_ok && !s.ends_with(':') && is_plain_string(s)
}

/// `s` plain when [`is_plain_safe`], else single-quoted.
pub fn plain_or_quoted(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        single_quoted(s)
    }
}

/// `'…'` with `'` doubled; a text that single quotes cannot hold (line
/// breaks fold inside them, control characters are not allowed) is
/// double-quoted instead.
pub fn single_quoted(s: &str) -> String {
    if s.chars().all(printable) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        double_quoted(s)
    }
}

/// Characters YAML allows as they are in a quoted scalar: line breaks of
/// every kind (NEL, LS, PS too), control characters, the BOM and
/// non-characters excluded.
fn printable(c: char) -> bool {
    match c {
        '\t' | '\u{20}'..='\u{7e}' => true,
        '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}' => {
            !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
        }
        _ => false,
    }
}

/// `"…"` that reads back as exactly `s` in YAML and in JSON: `"`, `\` and
/// every character that is not [`printable`] are escaped (`\n`, `\uXXXX`;
/// JSON's quoting alone leaves NEL, LS and PS, which YAML folds).
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if printable(c) => out.push(c),
            // Everything not printable is in the BMP.
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A string that can be written as a literal block (`|`): several lines,
/// some text before the last line breaks, nothing that needs escaping, no
/// trailing spaces, no carriage return or tab.
pub fn fits_literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.trim_end_matches('\n').is_empty()
        && s.chars().all(|c| c == '\n' || (c != '\t' && printable(c)))
        && s.split('\n').all(|l| !l.ends_with(' '))
}

/// The text of a string in the quoting a document uses: JSON documents
/// get JSON strings, YAML documents plain-or-single-quoted.
pub fn string_in(s: &str, json: bool) -> String {
    if json {
        double_quoted(s)
    } else {
        plain_or_quoted(s)
    }
}

/// A value that is always quoted (annotation values): `"…"` in JSON, `'…'` else.
pub fn quoted_in(s: &str, json: bool) -> String {
    if json {
        double_quoted(s)
    } else {
        single_quoted(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_reads_yaml_1_1_scalars() {
        for (s, want) in [
            ("on", Plain::Bool(true)),
            ("NO", Plain::Bool(false)),
            ("y", Plain::Bool(true)),
            ("~", Plain::Null),
            ("null", Plain::Null),
            ("0b101", Plain::Int(5)),
            ("0x10", Plain::Int(16)),
            ("012", Plain::Int(10)),
            ("1_000", Plain::Int(1000)),
            ("1e3", Plain::Float(1000.0)),
            ("08", Plain::Float(8.0)),
            (".inf", Plain::Float(f64::INFINITY)),
            ("2001-12-14", Plain::Timestamp),
            ("2001-12-14t21:59:43.10-05:00", Plain::Timestamp),
            ("<<", Plain::Merge),
            ("nginx", Plain::Str),
            ("1-2", Plain::Str),
            ("-javaagent", Plain::Str),
            ("1.2.3", Plain::Str),
        ] {
            assert_eq!(kubectl(s), want, "{s}");
        }
        assert_eq!(yaml12("on"), Plain::Str);
        assert_eq!(yaml12("0o17"), Plain::Int(15));
        assert_eq!(yaml12("012"), Plain::Int(12));
    }

    #[test]
    fn quoting() {
        for s in [
            "tingyun-image-secret",
            "harbor.example.com:5000/apm/x:1",
            "a@sha256:ab",
            "web-1",
        ] {
            assert_eq!(plain_or_quoted(s), s);
        }
        for s in [
            "true",
            "123",
            "1.5",
            "null",
            "a b",
            "x: y",
            "'q",
            "",
            "10:20",
            "on",
            "NO",
            "y",
            "0b101",
            "0x10",
            "012",
            "1e3",
            "1_000",
            "2001-12-14",
            "1:20",
            "Off",
        ] {
            assert!(plain_or_quoted(s).starts_with('\''), "{s}");
        }
        assert_eq!(single_quoted("it's"), "'it''s'");
        assert_eq!(double_quoted("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(string_in("on", true), "\"on\"");
        assert_eq!(string_in("web", true), "\"web\"");
    }
}
