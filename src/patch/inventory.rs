//! `images FILE`: every image the manifest makes nodes pull, found the way
//! `patch` finds workloads (the same kinds and pod-template paths, `List`
//! items, and the pod template inside the ConfigMap's `mutate.yaml`), each
//! with its object, container and line; plus the pull secrets that each pod
//! would use (its own `imagePullSecrets` and its ServiceAccount's), which
//! `images --check --from-cluster` reads from the cluster.
use std::collections::BTreeMap;

use crate::yaml::tree::Node;

use super::plan::template_path;
use crate::error::Located;
use crate::source::{LineIndex, Source};
use crate::yaml::block::BlockText;
use crate::yaml::cst;
use crate::yaml::stream;

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// One image field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    /// The image as written.
    pub image: String,
    /// `Kind/namespace/name` (`Kind/name` when the manifest names no namespace).
    pub object: String,
    /// The object's namespace as written, if any.
    pub namespace: Option<String>,
    pub container: String,
    /// 1-based line of the image value in the file.
    pub line: usize,
    pub column: usize,
    /// `Some("mutate.yaml")` for the injected pods' template.
    pub within: Option<String>,
    /// The pull secrets a pod would have: the pod spec's `imagePullSecrets`,
    /// else those of its ServiceAccount in this manifest (for mutate.yaml:
    /// the template's own).
    pub pull_secrets: Vec<String>,
    /// The pod's ServiceAccount (`default` when unnamed); `None` for mutate.yaml.
    pub service_account: Option<String>,
}

/// Everything `images` needs from a manifest.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub images: Vec<ImageUse>,
    /// (namespace, name) -> imagePullSecrets names, for ServiceAccounts in the file.
    pub service_accounts: BTreeMap<(String, String), Vec<String>>,
    /// Image fields that are not plain strings (aliases, block scalars).
    pub warnings: Vec<Located>,
}

impl Inventory {
    /// The distinct images, in first-seen order.
    pub fn distinct(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for u in &self.images {
            if !out.contains(&u.image) {
                out.push(u.image.clone());
            }
        }
        out
    }
}

/// `invalid YAML: MSG`, once (the span parser's messages may say it already).
fn invalid_yaml(msg: &str) -> String {
    if msg.starts_with("invalid YAML") {
        msg.to_string()
    } else {
        format!("invalid YAML: {msg}")
    }
}

/// List the images of `source`. Syntax errors come back located.
pub fn inventory(source: &Source) -> Result<Inventory, Located> {
    let text = source.text.as_str();
    let lines = LineIndex::new(text);
    let mut inv = Inventory::default();
    // Pods name a ServiceAccount that may come later in the file: collect
    // pods first and resolve their secrets at the end.
    let mut pending: Vec<(ImageUse, Vec<String>)> = Vec::new();
    for chunk in stream::split(text) {
        let doc = &text[chunk.start..chunk.end];
        let tree = cst::parse(doc).map_err(|e| {
            let (l, c) = lines.line_col(text, chunk.start + e.offset);
            Located::new(&source.label, l, c, invalid_yaml(&e.msg))
        })?;
        let Some(top) = cst::document_content(tree.root_node()).filter(|t| cst::is_mapping(*t))
        else {
            continue;
        };
        let mut w = Walker {
            source,
            lines: &lines,
            base: chunk.start,
            src: doc,
            inv: &mut inv,
            pending: &mut pending,
        };
        w.object(top)?;
    }
    for (mut u, own) in pending {
        if own.is_empty()
            && let Some(sa) = &u.service_account
        {
            let ns = u.namespace.clone().unwrap_or_default();
            if let Some(s) = inv.service_accounts.get(&(ns, sa.clone())) {
                u.pull_secrets = s.clone();
            }
        } else {
            u.pull_secrets = own;
        }
        inv.images.push(u);
    }
    inv.images.sort_by_key(|u| (u.line, u.column));
    Ok(inv)
}

struct Walker<'a> {
    source: &'a Source,
    lines: &'a LineIndex,
    base: usize,
    src: &'a str,
    inv: &'a mut Inventory,
    pending: &'a mut Vec<(ImageUse, Vec<String>)>,
}

fn text_of(map: Node, src: &str, path: &[&str]) -> Option<String> {
    let mut n = map;
    for k in path {
        n = cst::get_value(n, src, k)?;
    }
    cst::scalar_text(n, src)
}

/// The `name`s of an `imagePullSecrets` list.
fn pull_secret_names(spec: Node, src: &str) -> Vec<String> {
    let Some(list) = cst::get_value(spec, src, "imagePullSecrets") else {
        return Vec::new();
    };
    cst::items(list)
        .into_iter()
        .flatten()
        .filter(|n| cst::is_mapping(*n))
        .filter_map(|n| text_of(n, src, &["name"]))
        .filter(|n| !n.is_empty())
        .collect()
}

impl Walker<'_> {
    fn locate(&self, offset: usize) -> (usize, usize) {
        self.lines.line_col(&self.source.text, offset)
    }

    fn object(&mut self, map: Node) -> Result<(), Located> {
        let src = self.src;
        let Some(kind) = text_of(map, src, &["kind"]) else {
            return Ok(());
        };
        let name = text_of(map, src, &["metadata", "name"]).unwrap_or_default();
        let namespace = text_of(map, src, &["metadata", "namespace"]).filter(|n| !n.is_empty());
        let label = match &namespace {
            Some(ns) => format!("{kind}/{ns}/{name}"),
            None => format!("{kind}/{name}"),
        };
        match kind.as_str() {
            "List" => {
                if let Some(items) = cst::get_value(map, src, "items") {
                    for item in cst::items(items).into_iter().flatten() {
                        if cst::is_mapping(item) {
                            self.object(item)?;
                        }
                    }
                }
            }
            "ServiceAccount" => {
                let secrets = pull_secret_names(map, src);
                self.inv
                    .service_accounts
                    .insert((namespace.unwrap_or_default(), name), secrets);
            }
            "ConfigMap" => self.mutate_yaml(map, &label, namespace)?,
            _ => {
                if let Some(tpath) = template_path(&kind) {
                    let mut t = Some(map);
                    for k in tpath {
                        t = t.and_then(|t| cst::get_value(t, src, k));
                    }
                    if let Some(spec) = t
                        .filter(|t| cst::is_mapping(*t))
                        .and_then(|t| cst::get_value(t, src, "spec"))
                        .filter(|s| cst::is_mapping(*s))
                    {
                        let sa = text_of(spec, src, &["serviceAccountName"])
                            .or_else(|| text_of(spec, src, &["serviceAccount"]))
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "default".into());
                        let own = pull_secret_names(spec, src);
                        for (image, container, offset) in containers(spec, src, self) {
                            let (line, column) = self.locate(self.base + offset);
                            self.pending.push((
                                ImageUse {
                                    image,
                                    object: label.clone(),
                                    namespace: namespace.clone(),
                                    container,
                                    line,
                                    column,
                                    within: None,
                                    pull_secrets: Vec::new(),
                                    service_account: Some(sa.clone()),
                                },
                                own.clone(),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn warn(&mut self, outer_offset: usize, msg: String) {
        let (l, c) = self.locate(outer_offset);
        self.inv
            .warnings
            .push(Located::new(&self.source.label, l, c, msg));
    }

    fn mutate_yaml(
        &mut self,
        map: Node,
        label: &str,
        namespace: Option<String>,
    ) -> Result<(), Located> {
        let src = self.src;
        let Some(pair) = cst::get_value(map, src, "data")
            .filter(|d| cst::is_mapping(*d))
            .and_then(|d| cst::get(d, src, "mutate.yaml"))
        else {
            return Ok(());
        };
        let Some(value) = pair
            .value
            .and_then(cst::content)
            .filter(|v| v.kind() == "block_scalar")
        else {
            return Ok(());
        };
        let block = BlockText::read(value, src, cst::column(pair.key)).map_err(|(off, msg)| {
            let (l, c) = self.locate(self.base + off);
            Located::new(&self.source.label, l, c, format!("mutate.yaml: {msg}"))
        })?;
        let tree = cst::parse(&block.text).map_err(|e| {
            let (l, c) = self.locate(self.base + block.outer_offset(e.offset));
            Located::new(
                &self.source.label,
                l,
                c,
                format!("mutate.yaml: {}", invalid_yaml(&e.msg)),
            )
        })?;
        let Some(top) = cst::document_content(tree.root_node()).filter(|t| cst::is_mapping(*t))
        else {
            return Ok(());
        };
        let own = pull_secret_names(top, &block.text);
        let mut inner = Walker {
            source: self.source,
            lines: self.lines,
            base: self.base,
            src: &block.text,
            inv: self.inv,
            pending: self.pending,
        };
        let found = containers(top, &block.text, &mut inner);
        for (image, container, offset) in found {
            let (line, column) = self.locate(self.base + block.outer_offset(offset));
            self.inv.images.push(ImageUse {
                image,
                object: label.to_string(),
                namespace: namespace.clone(),
                container,
                line,
                column,
                within: Some("mutate.yaml".into()),
                pull_secrets: own.clone(),
                service_account: None,
            });
        }
        Ok(())
    }
}

/// (image, container name, offset in `src`) of every container of a pod
/// spec, init containers first.
fn containers(spec: Node, src: &str, w: &mut Walker) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for list in CONTAINER_LISTS {
        let Some(seq) = cst::get_value(spec, src, list) else {
            continue;
        };
        for item in cst::items(seq).into_iter().flatten() {
            if !cst::is_mapping(item) {
                continue;
            }
            let name = text_of(item, src, &["name"]).unwrap_or_default();
            let Some(image) = cst::get_value(item, src, "image") else {
                continue;
            };
            match cst::scalar_text(image, src) {
                Some(s) => out.push((s, name, image.start_byte())),
                None if w.src.as_ptr() == src.as_ptr() => {
                    let at = w.base + image.start_byte();
                    w.warn(
                        at,
                        format!("container {name:?}: image is not a plain string (an alias or a block); not listed"),
                    );
                }
                None => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(text: &str) -> Inventory {
        inventory(&Source::decode("m.yaml", None, text.as_bytes().to_vec()).unwrap()).unwrap()
    }

    #[test]
    fn workloads_lists_and_mutate_yaml() {
        let text = "\
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: tingyun}
imagePullSecrets: [{name: s1}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: tingyun
data:
  mutate.yaml: |
    imagePullSecrets:
    - name: inj
    initContainers:
    - name: init
      image: r.io/t/init:1
---
apiVersion: v1
kind: List
items:
- apiVersion: batch/v1
  kind: CronJob
  metadata: {name: cj}
  spec:
    jobTemplate:
      spec:
        template:
          spec:
            containers:
            - {name: c, image: \"r.io/t/cron:2\"}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds, namespace: tingyun}
spec:
  template:
    spec:
      serviceAccountName: agent
      initContainers:
      - name: i
        image: r.io/t/a:1
      containers:
      - name: m
        image: r.io/t/b:1
";
        let i = inv(text);
        let got: Vec<(String, String, String, usize, Vec<String>)> = i
            .images
            .iter()
            .map(|u| {
                (
                    u.image.clone(),
                    u.object.clone(),
                    u.container.clone(),
                    u.line,
                    u.pull_secrets.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "r.io/t/init:1".into(),
                    "ConfigMap/tingyun/cfg".into(),
                    "init".into(),
                    17,
                    vec!["inj".into()]
                ),
                (
                    "r.io/t/cron:2".into(),
                    "CronJob/cj".into(),
                    "c".into(),
                    31,
                    vec![]
                ),
                (
                    "r.io/t/a:1".into(),
                    "DaemonSet/tingyun/ds".into(),
                    "i".into(),
                    42,
                    vec!["s1".into()]
                ),
                (
                    "r.io/t/b:1".into(),
                    "DaemonSet/tingyun/ds".into(),
                    "m".into(),
                    45,
                    vec!["s1".into()]
                ),
            ]
        );
        assert_eq!(i.images[0].within.as_deref(), Some("mutate.yaml"));
        assert_eq!(i.images[0].column, 14);
    }

    #[test]
    fn aliases_warn_and_bad_yaml_is_located() {
        let i = inv(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nx: &a r.io/a:1\nspec:\n  containers:\n  - name: c\n    image: *a\n",
        );
        assert!(i.images.is_empty());
        assert_eq!(i.warnings.len(), 1);
        assert_eq!(i.warnings[0].line, 8);
        let e =
            inventory(&Source::decode("m.yaml", None, b"a: [\n".to_vec()).unwrap()).unwrap_err();
        assert_eq!(e.path, "m.yaml");
    }
}
