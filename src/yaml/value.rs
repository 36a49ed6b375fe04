//! Plain data view of YAML documents (via saphyr, an independent parser from
//! the tree-sitter one used for editing): used to check edits by meaning and
//! to turn manifests into JSON objects for the API server.
use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Number, Value};

/// A parse error with a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

/// Parse every document of a YAML stream into JSON values. Empty documents
/// (e.g. after a trailing `---`) are returned as `Value::Null`.
pub fn documents(text: &str) -> Result<Vec<Value>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // values are built recursively: never from a text nested too deep
    super::limits::check_depth(text).map_err(|e| {
        let (line, col) = crate::source::line_col(text, e.offset);
        ParseError {
            line,
            col,
            msg: e
                .msg
                .strip_prefix("invalid YAML: ")
                .unwrap_or(&e.msg)
                .to_string(),
        }
    })?;
    let docs = Yaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        ParseError {
            line: m.line(),
            col: m.col() + 1,
            msg: e.info().to_string(),
        }
    })?;
    docs.iter().map(to_json).collect()
}

fn to_json(y: &Yaml) -> Result<Value, ParseError> {
    Ok(match y {
        Yaml::Value(s) => scalar(s),
        Yaml::Representation(raw, _, _) => Value::String(raw.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter() {
                let key = match to_json(k)? {
                    Value::String(s) => s,
                    Value::Null => "null".to_string(),
                    other => other.to_string(),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => to_json(inner)?,
        Yaml::Alias(_) => {
            return Err(ParseError {
                line: 0,
                col: 0,
                msg: "YAML aliases are not supported in manifests".into(),
            });
        }
        Yaml::BadValue => Value::Null,
    })
}

fn scalar(s: &Scalar) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_document_streams_become_json() {
        let docs = documents("a: 1\nb: [x, 'y']\n---\n- true\n- ~\n").unwrap();
        assert_eq!(
            docs,
            vec![json!({"a": 1, "b": ["x", "y"]}), json!([true, null])]
        );
    }

    #[test]
    fn block_scalars_keep_their_text() {
        let docs = documents("k: |\n  line1\n  line2\n").unwrap();
        assert_eq!(docs[0]["k"], json!("line1\nline2\n"));
    }

    #[test]
    fn errors_have_positions() {
        let err = documents("a: [1,\nb: 2\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }
}
