//! The vocabulary of planned edits: byte splices, what each one means
//! ([`Intent`]), and the [`Layer`] an edit rule writes them into. Shared by
//! the planner and the rules it dispatches to (`pull_secret`, `images`,
//! `annotations`), which therefore do not depend on the planner.
use crate::yaml::edit::Doc;
pub use crate::yaml::edit::Splice;
use crate::yaml::style::LazyStyle;

/// One reported change: a splice, the object it belongs to, what it does.
#[derive(Debug, Clone)]
pub struct Change {
    pub splice: Splice,
    pub object: String,
    /// The object's `metadata.namespace`, if it has one: objects are
    /// counted by namespace, kind and name.
    pub namespace: Option<String>,
    pub what: String,
}

/// A step in a path through a document's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(std::borrow::Cow<'static, str>),
    Index(usize),
}

/// What a change means, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `imagePullSecrets` contains `{name: NAME}` (appended if it did not).
    PullSecret(String),
    /// The string at this path (relative to the object) is set; missing or
    /// null mappings on the way are created.
    Set(Vec<Seg>, String),
}

/// The meaning of one change: `op` applied to the object at `object` in
/// document `doc` (inside its `data["mutate.yaml"]` when `inner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub doc: usize,
    pub object: Vec<Seg>,
    pub inner: bool,
    pub op: Op,
}

/// A non-fatal finding at a byte offset of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub offset: usize,
    pub msg: String,
}

/// An edit in the coordinates of the text being walked (a document, or the
/// inner document of a block scalar).
#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub what: String,
    /// `Kind/name` of the object being edited.
    pub object: String,
    /// Its namespace, if it names one.
    pub namespace: Option<String>,
}

/// The text being walked, its layout, and where edits and intents go.
pub(crate) struct Layer<'a> {
    pub text: &'a str,
    pub style: &'a LazyStyle<'a>,
    pub doc: usize,
    pub inner: bool,
    /// Path of the object this layer's paths are relative to.
    pub object: Vec<Seg>,
    /// `Kind/name` of the object being walked.
    pub label: String,
    /// Its `metadata.namespace`, if it names one.
    pub namespace: Option<String>,
    /// The document is JSON: new keys and strings are written as JSON.
    pub json: bool,
    pub edits: Vec<Local>,
    pub intents: Vec<Intent>,
    pub warnings: Vec<Warning>,
}

impl<'a> Layer<'a> {
    /// The text as [`crate::yaml::edit`] operations see it.
    pub fn doc(&self) -> Doc<'a> {
        Doc {
            src: self.text,
            style: self.style,
            json: self.json,
        }
    }

    /// Record a splice from [`crate::yaml::edit`] as one change.
    pub fn splice(&mut self, s: Splice, what: String) {
        self.edit(s.start, s.end, s.text, what);
    }

    pub fn edit(&mut self, start: usize, end: usize, text: String, what: String) {
        let object = self.label.clone();
        self.edits.push(Local {
            start,
            end,
            text,
            what,
            object,
            namespace: self.namespace.clone(),
        });
    }

    pub fn intend(&mut self, op: Op) {
        self.intents.push(Intent {
            doc: self.doc,
            object: self.object.clone(),
            inner: self.inner,
            op,
        });
    }

    pub fn warn(&mut self, offset: usize, msg: String) {
        self.warnings.push(Warning { offset, msg });
    }
}
