//! Manifest objects: parse a YAML stream into API objects, order them for
//! applying, and name them the way kubectl does (`deployment.apps/NAME`).
use serde_json::Value;

use crate::error::Located;

/// One object from the manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// 1-based position among the file's objects (after flattening `List`s).
    pub position: usize,
    pub object: Value,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` as written in the file.
    pub namespace: Option<String>,
}

impl Manifest {
    /// The API group (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(_, v)| v)
            .unwrap_or(&self.api_version)
    }

    /// `kind.group/name` as kubectl prints it, e.g. `deployment.apps/tingyun-agent`.
    pub fn display(&self) -> String {
        display_name(&self.kind, self.group(), &self.name)
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group() == group && self.kind == kind
    }
}

/// `kind.group/name` as kubectl prints it.
pub fn display_name(kind: &str, group: &str, name: &str) -> String {
    if group.is_empty() {
        format!("{}/{name}", kind.to_lowercase())
    } else {
        format!("{}.{group}/{name}", kind.to_lowercase())
    }
}

/// Parse a manifest: every document, `kind: List` flattened, empty documents
/// skipped. `label` names the source in errors.
pub fn parse(label: &str, text: &str) -> anyhow::Result<Vec<Manifest>> {
    let docs = crate::yaml::value::documents(text).map_err(|e| {
        // no character of a Secret's document in the message
        let at = crate::source::LineIndex::offset_of(text, e.line, e.col);
        let doc = crate::yaml::stream::split(text)
            .into_iter()
            .find(|c| c.start <= at && at <= c.end)
            .map_or(text, |c| &text[c.start..c.end]);
        let msg = crate::yaml::secret::message_about(doc, &e.msg);
        Located::new(label, e.line.max(1), e.col.max(1), msg)
    })?;
    let mut flat = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        match doc {
            Value::Null => {}
            Value::Object(ref m)
                if m.get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List"))
                    && m.get("items").is_some_and(Value::is_array) =>
            {
                for item in m["items"].as_array().into_iter().flatten() {
                    flat.push((i + 1, item.clone()));
                }
            }
            other => flat.push((i + 1, other)),
        }
    }
    let mut out = Vec::new();
    for (doc_no, object) in flat {
        let position = out.len() + 1;
        let field = |path: &[&str]| {
            let mut cur = &object;
            for p in path {
                cur = &cur[*p];
            }
            cur.as_str().filter(|s| !s.is_empty()).map(String::from)
        };
        let what = |missing: &str| {
            anyhow::anyhow!(
                "{label}: document {doc_no}: the object has no {missing}; every object needs apiVersion, kind and metadata.name"
            )
        };
        if !object.is_object() {
            anyhow::bail!(
                "{label}: document {doc_no} is not a Kubernetes object (expected a mapping with apiVersion and kind)"
            );
        }
        let api_version = field(&["apiVersion"]).ok_or_else(|| what("apiVersion"))?;
        let kind = field(&["kind"]).ok_or_else(|| what("kind"))?;
        let name = field(&["metadata", "name"]).ok_or_else(|| what("metadata.name"))?;
        let namespace = field(&["metadata", "namespace"]);
        out.push(Manifest {
            position,
            object,
            api_version,
            kind,
            name,
            namespace,
        });
    }
    Ok(out)
}

/// Apply order: Namespaces, then CustomResourceDefinitions, then everything
/// else in file order.
pub fn apply_order(mut objects: Vec<Manifest>) -> Vec<Manifest> {
    objects.sort_by_key(|m| {
        let rank = if m.is("", "Namespace") {
            0
        } else if m.is("apiextensions.k8s.io", "CustomResourceDefinition") {
            1
        } else {
            2
        };
        (rank, m.position)
    });
    objects
}

/// One object after applying.
#[derive(Debug, Clone)]
pub struct Applied {
    pub manifest: Manifest,
    pub namespace: Option<String>,
    /// The live object before applying (None: it did not exist).
    pub before: Option<Value>,
    /// The object the server returned.
    pub after: Value,
}

impl Applied {
    /// Did the apply change the object (its resourceVersion moved)?
    pub fn changed(&self) -> bool {
        match &self.before {
            None => true,
            Some(b) => {
                b["metadata"]["resourceVersion"] != self.after["metadata"]["resourceVersion"]
            }
        }
    }

    pub fn outcome(&self) -> &'static str {
        match (&self.before, self.changed()) {
            (None, _) => "created",
            (Some(_), true) => "serverside-applied",
            (Some(_), false) => "unchanged",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_flattened_and_empty_documents_skipped() {
        let text = "---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n\
- {apiVersion: apps/v1, kind: Deployment, metadata: {name: b, namespace: x}}\n---\n";
        let objs = parse("f.yaml", text).unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0].display(), "configmap/a");
        assert_eq!(objs[1].display(), "deployment.apps/b");
        assert_eq!(objs[1].namespace.as_deref(), Some("x"));
    }

    #[test]
    fn namespaces_and_crds_go_first() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n\
apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: d}\n---\n\
apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n";
        let order: Vec<String> = apply_order(parse("f", text).unwrap())
            .iter()
            .map(Manifest::display)
            .collect();
        assert_eq!(
            order,
            [
                "namespace/ns",
                "customresourcedefinition.apiextensions.k8s.io/d",
                "configmap/c",
                "secret/s"
            ]
        );
    }

    #[test]
    fn objects_without_kind_or_name_are_rejected() {
        let err = parse("f.yaml", "apiVersion: v1\nmetadata: {name: a}\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("f.yaml: document 1: the object has no kind"),
            "{err}"
        );
        let err = parse("f.yaml", "apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
        assert!(err.to_string().contains("metadata.name"), "{err}");
    }

    #[test]
    fn yaml_errors_are_located() {
        let err = parse("f.yaml", "a: [1,\nb: 2\n").unwrap_err();
        assert!(err.downcast_ref::<Located>().is_some(), "{err}");
    }
}
