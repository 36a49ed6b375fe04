//! Planning: walk every document, find the targets of each requested edit
//! and turn them into byte splices, each paired with the meaning it must
//! have (an [`Intent`]) so the result can be checked by an independent parser.
use crate::yaml::tree::Node;

pub use super::layer::{Change, Intent, Op, Seg, Splice, Warning};
use super::layer::{Layer, Local};
use super::options::EditSet;
use super::syntax::{self, Diagnosis, Place, diagnose};
use super::{annotations, images, pull_secret};
use crate::error::Located;
use crate::source::Source;
use crate::yaml::block::BlockText;
use crate::yaml::cst;
use crate::yaml::limits;
use crate::yaml::outline::{self, Item};
use crate::yaml::stream::{self, Chunk};
use crate::yaml::style::{LazyStyle, Observed};
use crate::yaml::value;

/// Everything the edits will do to one text.
#[derive(Debug, Default)]
pub struct Plan {
    pub chunks: Vec<Chunk>,
    pub changes: Vec<Change>,
    pub intents: Vec<Intent>,
    pub warnings: Vec<Warning>,
    /// `Kind/name` per document (empty for documents without an object).
    pub labels: Vec<String>,
    pub objects: usize,
    pub(crate) seen: Seen,
    /// Documents (in order) already found valid as they are by
    /// [`value::quick_check`]: the self-check need not parse them again
    /// when they come out unchanged.
    pub checked: Vec<usize>,
}

/// How many targets each edit found (for "nothing to do" warnings).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Seen {
    pub service_accounts: usize,
    pub mutate_blocks: usize,
    pub images: usize,
    pub pod_templates: usize,
}

/// Workload kinds whose pod template carries containers.
pub(crate) fn template_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Deployment"
        | "DaemonSet"
        | "StatefulSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => Some(&["spec", "template"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template"]),
        "Pod" => Some(&[]),
        _ => None,
    }
}

/// Documents no edit targets are sampled for the file's style only up to
/// this size.
const STYLE_SAMPLE_MAX_BYTES: usize = 64 * 1024;

/// Plan `edits` on `source`. Syntax errors come back located in the file.
pub fn plan(source: &Source, edits: &EditSet) -> Result<Plan, Located> {
    let text = source.text.as_str();
    let chunks = stream::split(text);
    let mut plan = Plan {
        chunks: chunks.clone(),
        ..Plan::default()
    };
    // The file's own style, for documents that show none: the first
    // documents usually show it all, so this parses only a few of them
    // (at most 50, so a file without any example is not parsed twice).
    // A big document that no edit targets is never given a syntax tree
    // (its tree would take many times its size in memory): it is not asked.
    let mut file_style = Observed::default();
    for chunk in chunks.iter().take(50) {
        if file_style.step.is_some() && file_style.seq.is_some() {
            break;
        }
        let chunk_text = &text[chunk.start..chunk.end];
        if !limits::fits_span_parser(chunk_text)
            || (chunk_text.len() > STYLE_SAMPLE_MAX_BYTES && !may_need_edits(chunk_text, edits))
        {
            continue;
        }
        if let Ok(tree) = cst::parse(chunk_text) {
            file_style = file_style.or(Observed::of(tree.root_node(), chunk_text));
        }
    }
    // Documents are independent: plan contiguous ranges of them on the
    // available cores, then merge in document order (the first error in
    // document order wins, as in a sequential run).
    let parts = super::parallel::map_ranges(&chunks, |range| {
        let mut at = range.start;
        plan_range(source, edits, &chunks, range, file_style, &mut at).map_err(|e| (at, e))
    });
    for part in parts {
        // (duplicate keys are left to the self-check, which refuses them
        // with the same message; a document before this error, or this
        // one, that has one is reported first, as when the plan looked)
        let part = part.map_err(|(doc, e)| first_duplicate(source, &chunks, doc).unwrap_or(e))?;
        plan.changes.extend(part.changes);
        plan.intents.extend(part.intents);
        plan.warnings.extend(part.warnings);
        plan.labels.extend(part.labels);
        plan.checked.extend(part.checked);
        plan.objects += part.objects;
        plan.seen.service_accounts += part.seen.service_accounts;
        plan.seen.mutate_blocks += part.seen.mutate_blocks;
        plan.seen.images += part.seen.images;
        plan.seen.pod_templates += part.seen.pod_templates;
    }
    Ok(plan)
}

/// The first key written twice in documents `0..=upto` of `chunks`, as the
/// plan reports it (for errors found before the self-check could).
pub(crate) fn first_duplicate(source: &Source, chunks: &[Chunk], upto: usize) -> Option<Located> {
    let text = source.text.as_str();
    chunks
        .iter()
        .take(upto.saturating_add(1))
        .find_map(|whole| {
            let start = whole.start + bom_skip(&text[whole.start..whole.end]);
            let chunk_text = &text[start..whole.end];
            if !limits::fits_span_parser(chunk_text) {
                return None;
            }
            let tree = cst::parse(chunk_text).ok()?;
            let dup = cst::duplicate_key(tree.root_node(), chunk_text)?;
            let place = Place {
                source,
                outer: |at: usize| start + at,
                end: "",
                prefix: "",
            };
            Some(place.duplicate(dup))
        })
}

/// Plan the documents `range` of `chunks` (chunk fields of the result stay
/// empty); `at` is left at the document being planned when it fails.
fn plan_range(
    source: &Source,
    edits: &EditSet,
    chunks: &[Chunk],
    range: std::ops::Range<usize>,
    file_style: Observed,
    at: &mut usize,
) -> Result<Plan, Located> {
    let text = source.text.as_str();
    let mut plan = Plan::default();
    // One document at a time: parse, check, plan, drop the tree.
    for (doc, whole) in chunks.iter().enumerate().take(range.end).skip(range.start) {
        *at = doc;
        let start = whole.start + bom_skip(&text[whole.start..whole.end]);
        let chunk = &Chunk {
            start,
            end: whole.end,
        };
        let chunk_text = &text[chunk.start..chunk.end];
        if !limits::fits_span_parser(chunk_text)
            && big_document(&mut plan, source, edits, *chunk, doc, file_style)?
        {
            continue;
        }
        let relevant = may_need_edits(chunk_text, edits);
        let lookalikes = edits.registry.is_some() && images::any_lookalike_text(chunk_text, &[]);
        // A document that no edit targets and no warning looks into is only
        // checked, on saphyr's event stream without building a tree; what
        // that check cannot vouch for takes the full path (which names the error).
        if !relevant && !lookalikes {
            if let Some(checked) = value::quick_check(chunk_text) {
                if checked.label.is_some() {
                    plan.objects += 1;
                }
                plan.labels.push(checked.label.unwrap_or_default());
                if start == whole.start {
                    plan.checked.push(doc);
                }
                continue;
            }
        }
        let place = Place {
            source,
            outer: |at: usize| chunk.start + at,
            end: if chunk.end >= text.len() {
                "end of file"
            } else {
                "the end of this document (the next ---)"
            },
            prefix: "",
        };
        let tree = cst::parse(chunk_text).map_err(|e| place.error(diagnose(chunk_text, e)))?;
        // (a key written twice is refused by the self-check, which reads
        // every edited or unchecked document again: not looked for here)
        let root = tree.root_node();
        let top = cst::document_content(root);
        let style = if relevant {
            LazyStyle::of(root, chunk_text, file_style)
        } else {
            LazyStyle::known(file_style)
        };
        let mut layer = Layer {
            text: chunk_text,
            style: &style,
            doc,
            inner: false,
            object: Vec::new(),
            label: String::new(),
            namespace: None,
            json: top.is_some_and(crate::yaml::edit::is_json),
            edits: Vec::new(),
            intents: Vec::new(),
            warnings: Vec::new(),
        };
        let mut label = String::new();
        let mut image_nodes = Vec::new();
        if let Some(top) = top.filter(|t| cst::is_mapping(*t)) {
            if let Some(l) = object_label(top, chunk_text) {
                label = l;
                plan.objects += 1;
            }
            if label.is_empty() || !relevant {
                // not an object, or nothing any edit looks for is in its text
            } else {
                let mut ctx = ObjectCx {
                    edits,
                    seen: &mut plan.seen,
                    image_nodes: &mut image_nodes,
                    file_style,
                    base: chunk.start,
                    source,
                    piece: None,
                };
                ctx.object(&mut layer, top, Vec::new(), true, label.clone())?;
            }
        }
        if lookalikes {
            images::warn_lookalikes(&mut layer, root, &image_nodes);
        }
        let Layer {
            edits: locals,
            intents,
            warnings,
            ..
        } = layer;
        for w in warnings {
            plan.warnings.push(Warning {
                offset: chunk.start + w.offset,
                msg: w.msg,
            });
        }
        plan.intents.extend(intents);
        for l in locals {
            plan.changes.push(Change {
                splice: Splice {
                    start: chunk.start + l.start,
                    end: chunk.start + l.end,
                    text: l.text,
                },
                object: l.object,
                namespace: l.namespace,
                what: l.what,
            });
        }
        plan.labels.push(label);
    }
    Ok(plan)
}

/// A document may start with a byte order mark (YAML 1.2: a concatenation
/// of files that each had one). When a chunk is `---` alone on its line and
/// a BOM starts the next line, the tree parser (which does not accept it)
/// gets the text after the BOM: the bytes to skip.
fn bom_skip(chunk: &str) -> usize {
    let Some(nl) = chunk.find('\n') else {
        return 0;
    };
    let marker = chunk[..nl].trim_end_matches('\r');
    let bare = marker == "---"
        || marker
            .strip_prefix("---")
            .is_some_and(|r| r.trim_start().starts_with('#'));
    if bare && chunk[nl + 1..].starts_with('\u{feff}') {
        nl + 1 + '\u{feff}'.len_utf8()
    } else {
        0
    }
}

/// Plan a document too long for tree-sitter (see [`limits`]) from its
/// outline (saphyr's events), without a tree: a `kind: List` is edited item
/// by item (each item parsed on its own), an object no edit applies to is
/// only counted. `false`: an object an edit may apply to, to be planned
/// whole like any other document (the span scanner reads it; what the
/// scanner leaves to tree-sitter is then refused for its size).
fn big_document(
    plan: &mut Plan,
    source: &Source,
    edits: &EditSet,
    chunk: Chunk,
    doc: usize,
    file_style: Observed,
) -> Result<bool, Located> {
    let text = &source.text[chunk.start..chunk.end];
    let place = Place {
        source,
        outer: |at: usize| chunk.start + at,
        end: "end of this document",
        prefix: "",
    };
    let found = outline::outline(text).map_err(|e| place.error(syntax::outline_error(text, e)))?;
    let mut label = String::new();
    if let (Some(kind), Some(_)) = (&found.kind, &found.api_version) {
        label = format!("{kind}/{}", found.name.as_deref().unwrap_or_default());
    }
    let kind = found.kind.as_deref().unwrap_or_default();
    let relevant = !label.is_empty() && may_need_edits(text, edits);
    let lines = limits::line_count(text);
    if relevant && kind == "List" {
        match &found.items {
            Some(Ok(items)) => {
                for item in items {
                    list_item(plan, source, edits, chunk, doc, file_style, item)?;
                }
            }
            Some(Err(off)) => {
                return Err(source.error_at(
                    chunk.start + off,
                    format!(
                        "this list of {lines} lines is edited item by item (the YAML span parser \
                         handles at most {} lines at once), and this item cannot be cut out on \
                         its own: write its first key on the line of its `-`",
                        limits::MAX_SPAN_LINES
                    ),
                ));
            }
            None => {}
        }
    } else if relevant
        && (kind == "ServiceAccount"
            || (kind == "ConfigMap" && text.contains("mutate.yaml"))
            || template_path(kind).is_some())
    {
        // edited whole, like any document: the span scanner has no size
        // limit (only what it leaves to tree-sitter is refused for its size)
        return Ok(false);
    }
    if !label.is_empty() {
        plan.objects += 1;
    }
    plan.labels.push(label);
    Ok(true)
}

/// Plan one item of a long `kind: List`, parsed on its own.
fn list_item(
    plan: &mut Plan,
    source: &Source,
    edits: &EditSet,
    chunk: Chunk,
    doc: usize,
    file_style: Observed,
    item: &Item,
) -> Result<(), Located> {
    let text = &source.text[chunk.start..chunk.end];
    let piece = BlockText::from_range(text, item.start, item.end, item.indent)
        .map_err(|(off, msg)| source.error_at(chunk.start + off, msg))?;
    let at = |off: usize| chunk.start + piece.outer_offset(off);
    let place = Place {
        source,
        outer: |off: usize| chunk.start + piece.outer_position(off),
        end: "the end of this list item",
        prefix: "",
    };
    let tree = cst::parse(&piece.text).map_err(|e| place.error(diagnose(&piece.text, e)))?;
    if let Some(dup) = cst::duplicate_key(tree.root_node(), &piece.text) {
        return Err(place.duplicate(dup));
    }
    let root = tree.root_node();
    let Some(top) = cst::document_content(root).filter(|t| cst::is_mapping(*t)) else {
        return Ok(());
    };
    let style = LazyStyle::of(root, &piece.text, file_style);
    let mut layer = Layer {
        text: &piece.text,
        style: &style,
        doc,
        inner: false,
        object: Vec::new(),
        label: String::new(),
        namespace: None,
        // an item of a JSON list is JSON
        json: crate::yaml::edit::is_json(top),
        edits: Vec::new(),
        intents: Vec::new(),
        warnings: Vec::new(),
    };
    let mut image_nodes = Vec::new();
    let mut ctx = ObjectCx {
        edits,
        seen: &mut plan.seen,
        image_nodes: &mut image_nodes,
        file_style,
        base: chunk.start,
        source,
        piece: Some(&piece),
    };
    let path = vec![Seg::Key("items".into()), Seg::Index(item.index)];
    let label = object_label(top, &piece.text).unwrap_or_default();
    ctx.object(&mut layer, top, path, false, label)?;
    if edits.registry.is_some() {
        images::warn_lookalikes(&mut layer, root, &image_nodes);
    }
    for w in layer.warnings {
        plan.warnings.push(Warning {
            offset: at(w.offset),
            msg: w.msg,
        });
    }
    plan.intents.extend(layer.intents);
    for l in layer.edits {
        let (start, end, text) = piece.translate(l.start, l.end, &l.text);
        plan.changes.push(Change {
            splice: Splice {
                start: chunk.start + start,
                end: chunk.start + end,
                text,
            },
            object: l.object,
            namespace: l.namespace,
            what: l.what,
        });
    }
    Ok(())
}

/// A cheap textual test: can any requested edit find a target in this
/// document? (Each edit's targets are named by words that must appear in
/// the text: the kind, `mutate.yaml`, `image`, a pod `template`.)
fn may_need_edits(text: &str, edits: &EditSet) -> bool {
    (edits.pull_secret.is_some() && text.contains("ServiceAccount"))
        || ((edits.inject_pull_secret.is_some() || edits.registry.is_some())
            && text.contains("mutate.yaml"))
        || (edits.registry.is_some() && text.contains("image"))
        || (!edits.annotations.is_empty() && (text.contains("template") || text.contains("Pod")))
}

/// `Kind/name` of a mapping that is a Kubernetes object (has apiVersion and kind).
pub(crate) fn object_label(map: Node, src: &str) -> Option<String> {
    let scalar = |key: &str| cst::get_value(map, src, key).and_then(|n| cst::scalar_str(n, src));
    let kind = scalar("kind")?;
    scalar("apiVersion")?;
    let name = cst::get_value(map, src, "metadata")
        .and_then(|m| cst::get_value(m, src, "name"))
        .and_then(|n| cst::scalar_str(n, src))
        .unwrap_or_default();
    Some(format!("{kind}/{name}"))
}

/// `metadata.namespace` of an object, when it names one.
fn object_namespace(map: Node, src: &str) -> Option<String> {
    cst::get_value(map, src, "metadata")
        .and_then(|m| cst::get_value(m, src, "namespace"))
        .and_then(|n| cst::scalar_text(n, src))
        .filter(|ns| !ns.is_empty())
}

/// Walks one object and dispatches to the edits that apply to its kind.
struct ObjectCx<'e, 's> {
    edits: &'e EditSet,
    seen: &'s mut Seen,
    image_nodes: &'s mut Vec<std::ops::Range<usize>>,
    file_style: Observed,
    /// Offset of the layer's document in the file (for inner-document errors).
    base: usize,
    source: &'s Source,
    /// The list item the layer holds, when a document too long to parse
    /// whole is edited item by item.
    piece: Option<&'s BlockText>,
}

impl ObjectCx<'_, '_> {
    fn object(
        &mut self,
        layer: &mut Layer,
        map: Node,
        path: Vec<Seg>,
        document_level: bool,
        label: String,
    ) -> Result<(), Located> {
        let src = layer.text;
        let Some(kind) = cst::get_value(map, src, "kind").and_then(|n| cst::scalar_str(n, src))
        else {
            return Ok(());
        };
        let outer_label = std::mem::replace(&mut layer.label, label);
        let outer_namespace = std::mem::replace(&mut layer.namespace, object_namespace(map, src));
        layer.object = path.clone();
        match &*kind {
            "ServiceAccount" => {
                self.seen.service_accounts += 1;
                if let Some(name) = &self.edits.pull_secret {
                    pull_secret::ensure(layer, map, name, document_level);
                }
            }
            "ConfigMap" => {
                if self.edits.inject_pull_secret.is_some() || self.edits.registry.is_some() {
                    self.mutate_yaml(layer, map)?;
                }
            }
            "List" => {
                if let Some(items) = cst::get_value(map, src, "items") {
                    for (i, item) in cst::items(items).into_iter().enumerate() {
                        if let Some(item) = item.filter(|n| cst::is_mapping(*n)) {
                            let mut p = path.clone();
                            p.extend([Seg::Key("items".into()), Seg::Index(i)]);
                            self.object(
                                layer,
                                item,
                                p,
                                false,
                                object_label(item, src).unwrap_or_default(),
                            )?;
                        }
                    }
                }
            }
            _ => {
                if let Some(tpath) = template_path(&kind) {
                    self.workload(layer, map, tpath)
                        .map_err(|(at, msg)| self.source.error_at(self.base + at, msg))?;
                }
            }
        }
        layer.object = path;
        layer.label = outer_label;
        layer.namespace = outer_namespace;
        Ok(())
    }

    fn workload(
        &mut self,
        layer: &mut Layer,
        map: Node,
        tpath: &'static [&'static str],
    ) -> Result<(), (usize, String)> {
        let src = layer.text;
        let mut template = Some(map);
        for key in tpath {
            template = template.and_then(|t| cst::get_value(t, src, key));
        }
        let Some(template) = template.filter(|t| cst::is_mapping(*t)) else {
            return Ok(());
        };
        let tsegs: Vec<Seg> = tpath.iter().map(|k| Seg::Key((*k).into())).collect();
        self.seen.pod_templates += 1;
        if let Some(registry) = &self.edits.registry {
            if let Some(spec) =
                cst::get_value(template, src, "spec").filter(|s| cst::is_mapping(*s))
            {
                let mut spath = tsegs.clone();
                spath.push(Seg::Key("spec".into()));
                self.seen.images +=
                    images::rewrite(layer, spec, &spath, registry, self.image_nodes);
            }
        }
        if !self.edits.annotations.is_empty() {
            annotations::ensure(layer, template, &tsegs, &self.edits.annotations)?;
        }
        Ok(())
    }

    /// Edits inside `data["mutate.yaml"]`: parsed as its own document.
    fn mutate_yaml(&mut self, layer: &mut Layer, map: Node) -> Result<(), Located> {
        let src = layer.text;
        let Some(data) = cst::get_value(map, src, "data").filter(|d| cst::is_mapping(*d)) else {
            return Ok(());
        };
        let Some(pair) = cst::get(data, src, "mutate.yaml") else {
            return Ok(());
        };
        self.seen.mutate_blocks += 1;
        let Some(value) = pair
            .value
            .and_then(cst::content)
            .filter(|v| v.kind() == "block_scalar")
        else {
            layer.warn(
                pair.key.start_byte(),
                "mutate.yaml is not a block scalar (`mutate.yaml: |`); its content was not edited"
                    .into(),
            );
            return Ok(());
        };
        if src[value.start_byte()..].starts_with('>') {
            // folded: its lines are joined into one when read, so a line
            // added inside it would not be a line of the template
            layer.warn(
                value.start_byte(),
                "mutate.yaml is a folded block scalar (`>`: its lines are joined when read); \
                 its content was not edited: write it as a literal block (`mutate.yaml: |`)"
                    .into(),
            );
            return Ok(());
        }
        let piece = self.piece;
        let outer = |layer_offset: usize| {
            self.base + piece.map_or(layer_offset, |p| p.outer_offset(layer_offset))
        };
        let block = BlockText::read(value, src, cst::column(pair.key)).map_err(|(off, msg)| {
            self.source
                .error_at(outer(off), format!("mutate.yaml: {msg}"))
        })?;
        // errors inside the block are located in the file, both positions
        let place = Place {
            source: self.source,
            outer: |off: usize| outer(block.outer_position(off)),
            end: "the end of the mutate.yaml block",
            prefix: "mutate.yaml: ",
        };
        let tree = cst::parse(&block.text).map_err(|e| place.error(diagnose(&block.text, e)))?;
        if let Some(dup) = cst::duplicate_key(tree.root_node(), &block.text) {
            return Err(place.duplicate(dup));
        }
        if value::quick_check(&block.text).is_some() {
            // valid as saphyr reads it
        } else if let Err(e) = value::documents(&block.text) {
            return Err(place.error(Diagnosis::parse_error(&block.text, &e)));
        }
        let root = tree.root_node();
        let style = LazyStyle::nested((root, &block.text), (map, src), self.file_style);
        let top = cst::document_content(root);
        let mut inner = Layer {
            text: &block.text,
            style: &style,
            doc: layer.doc,
            inner: true,
            object: layer.object.clone(),
            label: layer.label.clone(),
            namespace: layer.namespace.clone(),
            json: top.is_some_and(crate::yaml::edit::is_json),
            edits: Vec::new(),
            intents: Vec::new(),
            warnings: Vec::new(),
        };
        match top.filter(|t| cst::is_mapping(*t)) {
            Some(top) => {
                if let Some(name) = &self.edits.inject_pull_secret {
                    pull_secret::ensure(&mut inner, top, name, true);
                }
                let mut inner_images = Vec::new();
                if let Some(registry) = &self.edits.registry {
                    self.seen.images +=
                        images::rewrite(&mut inner, top, &[], registry, &mut inner_images);
                    images::warn_lookalikes(&mut inner, root, &inner_images);
                }
            }
            None => inner.warn(
                0,
                "mutate.yaml holds no YAML mapping; nothing to edit inside it".into(),
            ),
        }
        for l in inner.edits {
            let (start, end, text) = block.translate(l.start, l.end, &l.text);
            layer.edits.push(Local {
                start,
                end,
                text,
                what: format!("mutate.yaml: {}", l.what),
                object: l.object,
                namespace: l.namespace,
            });
        }
        for w in inner.warnings {
            layer.warn(
                block.outer_offset(w.offset),
                format!("mutate.yaml: {}", w.msg),
            );
        }
        layer.intents.extend(inner.intents);
        // the block's own text is not scanned again for look-alike images
        self.image_nodes.push(value.byte_range());
        Ok(())
    }
}
