//! The self-check's fast path: a digest of what a document means, read
//! from its events (the subset reader's, `yaml::subset`, where it reads the
//! text, else saphyr's) without building its values, with the planned
//! intents applied on the way. Only the small subtrees an intent replaces
//! or creates (an image string, an `imagePullSecrets` list) are built as
//! values; a huge mapping an edit passes through is still only hashed.
//!
//! A digest is 64 bits of SipHash-1-3 under a key drawn for each run, the
//! same shape as [`Value`] equality: scalars as kubectl resolves them,
//! sequences in order, mappings as sets of entries (the sum of their
//! hashes; an entry is one hash of its key's text and its value's, see
//! [`Part`]). Equal digests of the input (plus intents) and the output mean
//! equal values, but for a chance of about 2^-64 per document that a text
//! cannot aim at without the key. (Two lanes, 128 bits, cost 10% of the
//! time of a document with 327,680 annotations, for no safety a user
//! could notice.)
//!
//! [`expected`] and [`actual`] return `None` for whatever the exact path
//! in `verify` must decide: anchors, aliases, tags, merge keys, keys alike
//! once resolved, a collection as a key, nesting past [`MAX_DEPTH`], byte
//! order marks, syntax errors, and an object an intent names but the text
//! does not have. Different digests are also sent there: it decides and
//! says where the values differ.
use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, DefaultHasher, Hasher};

use saphyr_parser::{Event, ScalarStyle};
use serde_json::{Value, json};

use super::layer::{Intent, Op, Seg};
use crate::yaml::limits::MAX_DEPTH;
use crate::yaml::scalar::{self, Plain};
use crate::yaml::subset::Events;
use crate::yaml::value::{KeySet, key_hash, key_text, node_value, resolve};

/// What a document means, hashed.
pub type Digest = u64;

// what each kind of node feeds the hash first
const NULL: u8 = 0;
const BOOL: u8 = 1;
const NUMBER: u8 = 2;
const STRING: u8 = 3;
const SEQUENCE: u8 = 5;
const MAPPING: u8 = 6;
/// A mapping entry whose value is a scalar: key and value in one hash.
const ENTRY_SCALAR: u8 = 8;
/// A mapping entry whose value is a collection.
const ENTRY_COLLECTION: u8 = 9;

/// A node's meaning on its way into its parent's hash: a scalar's kind and
/// bytes (a mapping hashes them together with their key, one hash per
/// entry), or a collection's digest.
enum Part<'a> {
    Scalar(u8, Cow<'a, [u8]>),
    Collection(Digest),
}

/// The hash key of one self-check: input and output must be digested
/// with the same one.
#[derive(Default)]
pub struct Keys(RandomState);

impl Keys {
    // (generic, not `&mut dyn Hasher`: the writes inline)
    fn hash(&self, feed: impl FnOnce(&mut DefaultHasher)) -> Digest {
        let mut h = self.0.build_hasher();
        feed(&mut h);
        h.finish()
    }

    // (the tag goes in as a whole word: what follows stays aligned to
    // SipHash's 8-byte blocks, its fast path)
    fn leaf(&self, tag: u8, bytes: &[u8]) -> Digest {
        self.hash(|h| {
            h.write_u64(u64::from(tag));
            h.write(bytes);
        })
    }

    fn words(&self, tag: u8, words: &[u64]) -> Digest {
        self.hash(|h| {
            h.write_u64(u64::from(tag));
            words.iter().for_each(|w| h.write_u64(*w));
        })
    }

    /// A mapping entry: its key's text and its value, in one hash (the
    /// key's length first, so that where it ends is part of what is hashed).
    fn entry(&self, key: &str, value: &Part) -> Digest {
        let (kind, tail): (u64, &[u8]) = match value {
            Part::Scalar(tag, bytes) => (u64::from(ENTRY_SCALAR) | u64::from(*tag) << 8, bytes),
            Part::Collection(d) => (u64::from(ENTRY_COLLECTION), &d.to_ne_bytes()),
        };
        // One stream: the kind (and the scalar's tag) and the key's length
        // as words, then the key's bytes and the value's. SipHash reads a
        // stream the same however it is cut into writes; a short entry is
        // put together first and written at once (each `write` call
        // buffers its tail, which cost more than the hashing).
        let len = 16 + key.len() + tail.len();
        let mut buf = [0u8; 192];
        self.hash(|h| {
            if len <= buf.len() {
                buf[..8].copy_from_slice(&kind.to_ne_bytes());
                buf[8..16].copy_from_slice(&(key.len() as u64).to_ne_bytes());
                buf[16..16 + key.len()].copy_from_slice(key.as_bytes());
                buf[16 + key.len()..len].copy_from_slice(tail);
                h.write(&buf[..len]);
            } else {
                h.write_u64(kind);
                h.write_u64(key.len() as u64);
                h.write(key.as_bytes());
                h.write(tail);
            }
        })
    }

    /// The digest of a node on its own (a sequence item, a document).
    fn digest(&self, part: &Part) -> Digest {
        match part {
            Part::Scalar(tag, bytes) => self.leaf(*tag, bytes),
            Part::Collection(d) => *d,
        }
    }

    /// A plain or quoted scalar's value, as [`resolve`] reads it.
    fn scalar<'a>(&self, raw: &'a str, style: ScalarStyle) -> Part<'a> {
        if style != ScalarStyle::Plain {
            return Part::Scalar(STRING, Cow::Borrowed(raw.as_bytes()));
        }
        match scalar::kubectl(raw) {
            // what `resolve` keeps as the string it is, without copying it
            Plain::Str | Plain::Timestamp | Plain::Merge => {
                Part::Scalar(STRING, Cow::Borrowed(raw.as_bytes()))
            }
            _ => self.part(&resolve(raw)).into_owned(),
        }
    }

    /// The part of a built value.
    fn part<'v>(&self, v: &'v Value) -> Part<'v> {
        match v {
            Value::Null => Part::Scalar(NULL, Cow::Borrowed(b"")),
            Value::Bool(b) => Part::Scalar(BOOL, Cow::Owned(vec![u8::from(*b)])),
            Value::Number(n) => Part::Scalar(NUMBER, Cow::Owned(n.to_string().into_bytes())),
            Value::String(s) => Part::Scalar(STRING, Cow::Borrowed(s.as_bytes())),
            collection => Part::Collection(self.value(collection)),
        }
    }

    /// The digest of a built value: what the event walk computes for the
    /// text it was built from.
    pub fn value(&self, v: &Value) -> Digest {
        match v {
            Value::Array(items) => {
                let mut seq = Seq::new(self);
                items.iter().for_each(|i| seq.push(self.value(i)));
                seq.finish()
            }
            Value::Object(map) => {
                let mut m = Map::default();
                for (k, v) in map {
                    m.add(self.entry(k, &self.part(v)));
                }
                m.finish(self)
            }
            scalar => self.digest(&self.part(scalar)),
        }
    }
}

impl Part<'_> {
    fn into_owned(self) -> Part<'static> {
        match self {
            Part::Scalar(tag, bytes) => Part::Scalar(tag, Cow::Owned(bytes.into_owned())),
            Part::Collection(d) => Part::Collection(d),
        }
    }
}

/// A sequence's items so far (in order), already in its hash: the stream
/// [`Keys::words`] would hash for them, without holding them.
struct Seq(DefaultHasher);

impl Seq {
    fn new(keys: &Keys) -> Seq {
        let mut h = keys.0.build_hasher();
        h.write_u64(u64::from(SEQUENCE));
        Seq(h)
    }
    fn push(&mut self, d: Digest) {
        self.0.write_u64(d);
    }
    fn finish(self) -> Digest {
        self.0.finish()
    }
}

/// A mapping's entries so far: their sum, so that order does not matter
/// (keys are unique, checked apart).
#[derive(Default)]
struct Map {
    sum: Digest,
    len: u64,
}

impl Map {
    fn add(&mut self, d: Digest) {
        self.sum = self.sum.wrapping_add(d);
        self.len += 1;
    }
    fn finish(self, keys: &Keys) -> Digest {
        keys.words(MAPPING, &[self.len, self.sum])
    }
}

/// Where the intents of one document go: a trie of their paths.
#[derive(Default, Debug)]
pub struct Trie<'a> {
    keys: Vec<(&'a str, Trie<'a>)>,
    index: Vec<(usize, Trie<'a>)>,
    /// Path length from the document's root.
    depth: usize,
    /// An intent's path ends here (its op replaces this node's value).
    ends: bool,
    /// An intent needs this node to exist (a step of its object's path).
    lookup: bool,
    /// The intents whose paths pass through or end here, in order.
    intents: Vec<&'a Intent>,
    /// This node is a ConfigMap's `data["mutate.yaml"]`: its string is read
    /// as YAML, with these intents applied to that document.
    inner: Option<Box<Trie<'a>>>,
    /// The intents of `inner`.
    inner_intents: Vec<&'a Intent>,
    /// A mutate.yaml node is at or below this one.
    has_inner: bool,
    /// In a mutate.yaml document: the intents' paths start at its root
    /// (their `object` names the ConfigMap holding it).
    relative: bool,
}

/// The key a pull-secret intent changes in its object.
const PULL_SECRETS: &str = "imagePullSecrets";

impl<'a> Trie<'a> {
    /// The tries of one document's `intents`: what the input's digest
    /// applies, and the output's (its mutate.yaml nodes only).
    pub fn of_document(intents: &[&'a Intent]) -> (Trie<'a>, Trie<'a>) {
        let outer: Vec<&Intent> = intents.iter().filter(|i| !i.inner).copied().collect();
        let mut input = Trie::new(&outer, false);
        let mut output = Trie::default();
        let mut done: Vec<&[Seg]> = Vec::new();
        for i in intents.iter().filter(|i| i.inner) {
            if done.contains(&&i.object[..]) {
                continue;
            }
            done.push(&i.object);
            let group: Vec<&Intent> = intents
                .iter()
                .filter(|j| j.inner && j.object == i.object)
                .copied()
                .collect();
            input.add_mutate_yaml(&i.object, &group);
            output.add_mutate_yaml(&i.object, &[]);
        }
        (input, output)
    }

    /// The trie of `intents` (of one document, none inside mutate.yaml, or
    /// all inside one: `relative`).
    fn new(intents: &[&'a Intent], relative: bool) -> Trie<'a> {
        let mut root = Trie {
            relative,
            ..Trie::default()
        };
        for &intent in intents {
            let op_path: &'a [Seg] = match &intent.op {
                Op::Set(path, _) => path,
                Op::PullSecret(_) => &[],
            };
            let object: &'a [Seg] = if relative { &[] } else { &intent.object };
            let steps = object
                .iter()
                .map(|s| (seg(s), true))
                .chain(op_path.iter().map(|s| (seg(s), false)))
                .chain(
                    matches!(intent.op, Op::PullSecret(_))
                        .then_some((Step::Key(PULL_SECRETS), false)),
                );
            let mut node = &mut root;
            node.intents.push(intent);
            for (step, lookup) in steps {
                let depth = node.depth + 1;
                node = node.child(step, depth);
                node.lookup |= lookup;
                node.intents.push(intent);
            }
            node.ends = true;
        }
        root
    }

    /// Add the ConfigMap at `object`, whose `data["mutate.yaml"]` is read as
    /// YAML, with `intents` (inside it, all of that ConfigMap) applied
    /// there; none for the output's side.
    fn add_mutate_yaml(&mut self, object: &'a [Seg], intents: &[&'a Intent]) {
        let steps = object
            .iter()
            .map(seg)
            .chain([Step::Key("data"), Step::Key("mutate.yaml")]);
        let mut node = self;
        node.has_inner = true;
        for step in steps {
            let depth = node.depth + 1;
            node = node.child(step, depth);
            node.lookup = true;
            node.has_inner = true;
        }
        node.inner_intents.extend_from_slice(intents);
        node.inner = Some(Box::new(Trie::new(&node.inner_intents, true)));
    }

    /// Nothing to apply or read differently at or below this node.
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.index.is_empty() && !self.ends && self.inner.is_none()
    }

    fn child(&mut self, step: Step<'a>, depth: usize) -> &mut Trie<'a> {
        /// The node under `at` in `children`, added if new.
        fn entry<'v, 'a, K: PartialEq>(
            children: &'v mut Vec<(K, Trie<'a>)>,
            at: K,
            fresh: Trie<'a>,
        ) -> &'v mut Trie<'a> {
            let i = match children.iter().position(|(k, _)| *k == at) {
                Some(i) => i,
                None => {
                    children.push((at, fresh));
                    children.len() - 1
                }
            };
            &mut children[i].1
        }
        let fresh = Trie {
            depth,
            relative: self.relative,
            ..Trie::default()
        };
        match step {
            Step::Key(k) => entry(&mut self.keys, k, fresh),
            Step::Index(n) => entry(&mut self.index, n, fresh),
        }
    }

    /// Apply the intents that pass through this node to its value `v`, as
    /// `verify::apply` applies them to the whole document; `None` when an
    /// object an intent names is not there (the exact path reports it).
    fn apply(&self, v: &mut Value) -> Option<()> {
        if self.has_inner {
            return None; // the exact path reads mutate.yaml
        }
        for &intent in &self.intents {
            let object: &[Seg] = if self.relative { &[] } else { &intent.object };
            if self.depth <= object.len() {
                let target = super::verify::lookup(v, &object[self.depth..])?;
                super::verify::apply(target, &intent.op);
                continue;
            }
            let rest = self.depth - object.len();
            match &intent.op {
                Op::Set(path, s) => super::verify::set(v, &path[rest..], s),
                // this node is the object's imagePullSecrets: apply the op
                // to an object holding only it
                Op::PullSecret(_) => {
                    let mut holder = json!({ PULL_SECRETS: v.take() });
                    super::verify::apply(&mut holder, &intent.op);
                    *v = holder[PULL_SECRETS].take();
                }
            }
        }
        Some(())
    }
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn seg(s: &Seg) -> Step<'_> {
    match s {
        Seg::Key(k) => Step::Key(k),
        Seg::Index(i) => Step::Index(*i),
    }
}

/// The digest of one document's `text` with the intents of `trie` applied
/// and its mutate.yaml nodes read as YAML. (For the output: a trie of only
/// its mutate.yaml nodes, or an empty one.)
pub fn of(text: &str, keys: &Keys, trie: &Trie) -> Option<Digest> {
    let trie = Some(trie).filter(|t| !t.is_empty());
    Walk {
        events: Events::of(text)?,
        keys,
        frames: Vec::new(),
    }
    .document(trie)
}

struct Walk<'t, 'k> {
    events: Events<'t>,
    keys: &'k Keys,
    /// [`Walk::untouched`]'s collections (kept between calls: one
    /// allocation per document, not one per untouched node).
    frames: Vec<Frame<'t>>,
}

/// Which of a trie node's keys a mapping had (a bit set; a vector only
/// for a node of more than 64 keys).
struct Found {
    bits: u64,
    more: Vec<bool>,
}

impl Found {
    fn new(n: usize) -> Found {
        Found {
            bits: 0,
            more: if n > 64 { vec![false; n] } else { Vec::new() },
        }
    }
    fn set(&mut self, i: usize) {
        match self.more.get_mut(i) {
            Some(b) => *b = true,
            None => self.bits |= 1 << i,
        }
    }
    fn get(&self, i: usize) -> bool {
        match self.more.get(i) {
            Some(b) => *b,
            None => self.bits & (1 << i) != 0,
        }
    }
}

/// An open collection of [`Walk::untouched`].
enum Frame<'t> {
    Seq(Seq),
    Map(Map, KeySet, Option<Cow<'t, str>>),
}

impl<'t, 'k> Walk<'t, 'k> {
    /// The next event; `None` at a syntax error or the end.
    fn next(&mut self) -> Option<Event<'t>> {
        self.events.next()
    }

    fn document(mut self, trie: Option<&Trie>) -> Option<Digest> {
        let mut root = None;
        let mut ended = false;
        loop {
            match self.next()? {
                Event::StreamStart | Event::DocumentStart(_) if !ended => {}
                Event::DocumentEnd if !ended => ended = true,
                Event::StreamEnd if ended => break,
                event if root.is_none() && !ended => {
                    root = Some(self.keys.digest(&self.node(event, trie, 0)?));
                }
                // a second document, or an event out of place
                _ => return None,
            }
        }
        // an empty document is null; with intents, the exact path decides
        match (root, trie) {
            (Some(d), _) => Some(d),
            (None, None) => Some(self.keys.value(&Value::Null)),
            (None, Some(_)) => None,
        }
    }

    /// The digest of the node that starts with `event`, `depth`
    /// collections deep, with the intents of `trie` applied.
    fn node(&mut self, event: Event<'t>, trie: Option<&Trie>, depth: usize) -> Option<Part<'t>> {
        let Some(trie) = trie else {
            return self.untouched(event, depth);
        };
        if let Some(inner) = &trie.inner {
            // mutate.yaml: a string, read as the YAML document it holds
            let Event::Scalar(raw, style, 0, None) = event else {
                return None;
            };
            let string = style != ScalarStyle::Plain
                || matches!(
                    scalar::kubectl(&raw),
                    Plain::Str | Plain::Timestamp | Plain::Merge
                );
            let only_read = trie.keys.is_empty() && trie.index.is_empty() && !trie.ends;
            if !(string && only_read) {
                return None;
            }
            return of(&raw, self.keys, inner).map(Part::Collection);
        }
        let map = matches!(event, Event::MappingStart(0, None));
        let seq = matches!(event, Event::SequenceStart(0, None));
        let through_map = !trie.ends && trie.index.is_empty() && map;
        let through_seq = !trie.ends && trie.keys.is_empty() && seq;
        if !(through_map || through_seq) {
            // the intents replace or create this node: build it
            let mut v = node_value(event, || self.next(), depth)?;
            trie.apply(&mut v)?;
            return Some(self.keys.part(&v).into_owned());
        }
        if depth >= MAX_DEPTH {
            return None;
        }
        if through_seq {
            let mut items = Seq::new(self.keys);
            let mut n = 0;
            loop {
                let event = self.next()?;
                if matches!(event, Event::SequenceEnd) {
                    break;
                }
                let child = trie.index.iter().find(|(i, _)| *i == n).map(|(_, t)| t);
                let item = self.node(event, child, depth + 1)?;
                items.push(self.keys.digest(&item));
                n += 1;
            }
            // an object path through an item that is not there; a `Set`
            // through a missing item does nothing
            if trie.index.iter().any(|(i, t)| *i >= n && t.lookup) {
                return None;
            }
            return Some(Part::Collection(items.finish()));
        }
        let mut entries = Map::default();
        let mut seen = KeySet::default();
        let mut found = Found::new(trie.keys.len());
        loop {
            let (raw, style) = match self.next()? {
                Event::MappingEnd => break,
                Event::Scalar(raw, style, 0, None) => (raw, style),
                _ => return None,
            };
            let key = key_text(&raw, style)?;
            if !seen.insert(key_hash(&key)) {
                return None;
            }
            let child = trie.keys.iter().position(|(k, _)| *k == &*key);
            if let Some(i) = child {
                found.set(i);
            }
            let event = self.next()?;
            let value = self.node(event, child.map(|i| &trie.keys[i].1), depth + 1)?;
            entries.add(self.keys.entry(&key, &value));
        }
        for (_, (k, child)) in trie.keys.iter().enumerate().filter(|(i, _)| !found.get(*i)) {
            if child.lookup {
                return None;
            }
            // created by the intents, from null
            let mut v = Value::Null;
            child.apply(&mut v)?;
            if !seen.insert(key_hash(k)) {
                return None;
            }
            entries.add(self.keys.entry(k, &self.keys.part(&v)));
        }
        Some(Part::Collection(entries.finish(self.keys)))
    }

    /// The digest of a node no intent touches, without building it.
    fn untouched(&mut self, first: Event<'t>, depth: usize) -> Option<Part<'t>> {
        let mut stack = std::mem::take(&mut self.frames);
        stack.clear();
        let mut event = first;
        loop {
            let done = match event {
                Event::Scalar(raw, style, 0, None) => {
                    if let Some(Frame::Map(_, seen, key @ None)) = stack.last_mut() {
                        let text = match raw {
                            Cow::Borrowed(raw) => key_text(raw, style)?,
                            Cow::Owned(raw) => Cow::Owned(key_text(&raw, style)?.into_owned()),
                        };
                        if !seen.insert(key_hash(&text)) {
                            return None;
                        }
                        *key = Some(text);
                        event = self.next()?;
                        continue;
                    }
                    match raw {
                        Cow::Borrowed(raw) => self.keys.scalar(raw, style),
                        Cow::Owned(raw) => self.keys.scalar(&raw, style).into_owned(),
                    }
                }
                Event::MappingStart(0, None) | Event::SequenceStart(0, None) => {
                    if depth + stack.len() >= MAX_DEPTH
                        || matches!(stack.last(), Some(Frame::Map(_, _, None)))
                    {
                        return None; // too deep, or a collection as a key
                    }
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map(Map::default(), KeySet::default(), None)
                    } else {
                        Frame::Seq(Seq::new(self.keys))
                    });
                    event = self.next()?;
                    continue;
                }
                Event::SequenceEnd => match stack.pop()? {
                    Frame::Seq(items) => Part::Collection(items.finish()),
                    Frame::Map(..) => return None,
                },
                Event::MappingEnd => match stack.pop()? {
                    Frame::Map(entries, _, None) => Part::Collection(entries.finish(self.keys)),
                    _ => return None,
                },
                // anchors, aliases, tags
                _ => return None,
            };
            match stack.last_mut() {
                None => {
                    self.frames = stack;
                    return Some(done);
                }
                Some(Frame::Seq(items)) => items.push(self.keys.digest(&done)),
                Some(Frame::Map(entries, _, key)) => {
                    let key = key.take()?;
                    entries.add(self.keys.entry(&key, &done));
                }
            }
            event = self.next()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_keys_are_remembered_for_small_and_large_nodes() {
        for n in [0, 1, 63, 64, 65, 200] {
            let mut found = Found::new(n);
            let marked: Vec<usize> = (0..n).filter(|i| i % 3 == 1).collect();
            marked.iter().for_each(|&i| found.set(i));
            for i in 0..n {
                assert_eq!(found.get(i), marked.contains(&i), "{n} keys, key {i}");
            }
        }
    }
    use crate::yaml::{stream, value::documents};

    fn key(k: &str) -> Seg {
        Seg::Key(k.to_owned().into())
    }

    fn set(object: Vec<Seg>, path: &[Seg], s: &str) -> Intent {
        Intent {
            doc: 0,
            object,
            inner: false,
            op: Op::Set(path.to_vec(), s.into()),
        }
    }

    fn pull(object: Vec<Seg>, name: &str) -> Intent {
        Intent {
            doc: 0,
            object,
            inner: false,
            op: Op::PullSecret(name.into()),
        }
    }

    /// What `verify` computes the slow way: the value of `text` with the
    /// intents applied (`None` when an object is missing).
    fn exact(text: &str, intents: &[&Intent]) -> Option<Value> {
        let mut v = documents(text)
            .ok()?
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        for i in intents {
            let target = crate::patch::verify::lookup(&mut v, &i.object)?;
            crate::patch::verify::apply(target, &i.op);
        }
        Some(v)
    }

    /// An entry is one stream (kind and tag, key length, key, value)
    /// whether it is put together first (short) or written piece by piece
    /// (long): equal for every length around the cut, different when the
    /// key/value boundary moves.
    #[test]
    fn an_entry_hashes_the_same_stream_short_or_long() {
        let keys = Keys::default();
        let by_pieces = |kind: u64, key: &str, tail: &[u8]| {
            let mut h = keys.0.build_hasher();
            h.write_u64(kind);
            h.write_u64(key.len() as u64);
            for b in key.as_bytes().iter().chain(tail) {
                h.write_u8(*b);
            }
            h.finish()
        };
        let value: String = (0..400)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        for n in (150..=200).chain([0, 1, 399]) {
            let bytes = &value.as_bytes()[..n];
            let got = keys.entry("key", &Part::Scalar(STRING, Cow::Borrowed(bytes)));
            let kind = u64::from(ENTRY_SCALAR) | u64::from(STRING) << 8;
            assert_eq!(got, by_pieces(kind, "key", bytes), "value of {n} bytes");
        }
        let d: Digest = 0x0123_4567_89ab_cdef;
        assert_eq!(
            keys.entry(&value[..190], &Part::Collection(d)),
            by_pieces(u64::from(ENTRY_COLLECTION), &value[..190], &d.to_ne_bytes())
        );
        let a = keys.entry("ab", &Part::Scalar(STRING, Cow::Borrowed(b"c")));
        let b = keys.entry("a", &Part::Scalar(STRING, Cow::Borrowed(b"bc")));
        assert_ne!(a, b);
    }

    /// Every document of every YAML file under testdata: where the digest
    /// decides, it is the digest of the value the loader builds.
    #[test]
    fn digests_of_texts_are_digests_of_their_values() {
        let keys = Keys::default();
        let mut decided = 0;
        let mut files = vec![std::path::PathBuf::from("testdata")];
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            for chunk in stream::split(&text) {
                let doc = &text[chunk.start..chunk.end];
                let Some(d) = of(doc, &keys, &Trie::default()) else {
                    continue;
                };
                let values = documents(doc).unwrap_or_else(|e| {
                    panic!(
                        "{}: digest decided a text the loader refuses: {}",
                        p.display(),
                        e.msg
                    )
                });
                let v = values.into_iter().next().unwrap_or(Value::Null);
                assert_eq!(d, keys.value(&v), "{}: {doc}", p.display());
                decided += 1;
            }
        }
        assert!(decided > 100, "only {decided} documents decided");
    }

    #[test]
    fn digests_tell_meanings_apart() {
        let keys = Keys::default();
        let d = |t: &str| of(t, &keys, &Trie::default()).unwrap();
        // the same meaning
        assert_eq!(d("a: 1\nb: [x, y]\n"), d("b:\n- x\n- y\na: 1\n"));
        assert_eq!(d("\"a\": '1'\n"), d("a: \"1\"\n"));
        assert_eq!(d("a: 0x10\n"), d("a: 16\n"));
        assert_eq!(d("a: ~\n"), d("a: null\n"));
        assert_eq!(d("1: x\n"), d("'1': x\n"));
        // different meanings
        assert_ne!(d("a: 1\n"), d("a: '1'\n"));
        assert_ne!(d("a: [x, y]\n"), d("a: [y, x]\n"));
        assert_ne!(d("a: {b: c}\n"), d("a: {c: b}\n"));
        assert_ne!(d("a: b\nc: d\n"), d("a: d\nc: b\n"));
        assert_ne!(d("a: [[x], []]\n"), d("a: [[], [x]]\n"));
        assert_ne!(d("a: on\n"), d("a: 'on'\n"));
        assert_ne!(d("a: {}\n"), d("a: []\n"));
        assert_ne!(d("a: ''\n"), d("a:\n"));
        assert_ne!(d("a: 1.0\n"), d("a: 1\n"));
    }

    #[test]
    fn what_the_exact_path_decides_is_left_to_it() {
        let keys = Keys::default();
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "<<: {a: 1}\n",
            "a: 1\na: 2\n",
            "1: a\n'1': b\n",
            "? [a]\n: b\n",
            "a: [\n",
            "\u{feff}a: 1\n",
            "a: 1\n---\nb: 2\n",
        ] {
            assert_eq!(of(text, &keys, &Trie::default()), None, "{text:?}");
        }
        let deep = format!(
            "{}x{}\n",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(of(&deep, &keys, &Trie::default()), None);
        let ok = format!("{}x{}\n", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(of(&ok, &keys, &Trie::default()).is_some());
    }

    /// The intents applied on the way give what applying them to the
    /// built value gives, whichever shape the text has where they land.
    #[test]
    fn intents_on_the_way_equal_intents_on_the_value() {
        let keys = Keys::default();
        let image = [key("spec"), key("containers"), Seg::Index(0), key("image")];
        let note = [key("metadata"), key("annotations"), key("k")];
        let texts = [
            "spec:\n  containers:\n  - name: a\n    image: x\n",
            "spec: {containers: [{name: a, image: x}, {name: b}]}\nmetadata: {annotations: {k: old, j: 1}}\n",
            "spec:\n  containers: []\nmetadata:\n",
            "spec:\n  containers: 3\nmetadata: {name: n}\n",
            "spec:\nmetadata: {annotations: ~}\n",
            "spec: x\nmetadata: [1]\n",
            "kind: ServiceAccount\n",
            "imagePullSecrets:\n- name: a\n",
            "imagePullSecrets: [{name: s}]\n",
            "imagePullSecrets: ~\n",
            "imagePullSecrets: oops\n",
            "items:\n- spec: {containers: [{image: x}]}\n- kind: Pod\n",
            "[1, 2]\n",
            "scalar\n",
        ];
        let sets: Vec<Vec<Intent>> = vec![
            vec![set(vec![], &image, "r/x")],
            vec![set(vec![], &note, "v")],
            vec![pull(vec![], "s")],
            vec![
                set(vec![], &image, "r/x"),
                set(vec![], &note, "v"),
                pull(vec![key("spec")], "s"),
            ],
            vec![set(vec![], &[key("spec")], "a"), set(vec![], &image, "b")],
            vec![set(vec![], &image, "b"), set(vec![], &[key("spec")], "a")],
            vec![set(vec![key("items"), Seg::Index(0)], &image, "r/x")],
            vec![
                pull(vec![key("items"), Seg::Index(1)], "s"),
                set(vec![key("items"), Seg::Index(0)], &note, "v"),
            ],
        ];
        let mut undecided = 0;
        for text in texts {
            for intents in &sets {
                let mine: Vec<&Intent> = intents.iter().collect();
                let trie = Trie::new(&mine, false);
                let fast = of(text, &keys, &trie);
                let want = exact(text, &mine).map(|v| keys.value(&v));
                if fast.is_some() || want.is_none() || intents.iter().all(|i| i.object.is_empty()) {
                    assert_eq!(fast, want, "{text:?} {intents:?}");
                } else {
                    // an object path the digest cannot follow in the text
                    // (one an earlier intent created): the exact path decides
                    undecided += 1;
                }
            }
        }
        assert!(
            undecided < texts.len() * sets.len() / 4,
            "{undecided} undecided"
        );
    }

    /// mutate.yaml is read as the YAML it holds, intents applied inside.
    #[test]
    fn mutate_yaml_is_compared_as_yaml() {
        let keys = Keys::default();
        let cm = |inner: &str| {
            let block: String = inner.lines().map(|l| format!("    {l}\n")).collect();
            format!("kind: ConfigMap\ndata:\n  other: x\n  mutate.yaml: |\n{block}")
        };
        let input = cm("initContainers:\n- name: a\n  image: x\n#imagePullSecrets:\n");
        let inner_image = set(
            vec![],
            &[key("initContainers"), Seg::Index(0), key("image")],
            "r/x",
        );
        let inner_pull = pull(vec![], "s");
        // as the planner has them: inside mutate.yaml, object the ConfigMap
        let [inner_image, inner_pull] =
            [inner_image, inner_pull].map(|i| Intent { inner: true, ..i });
        let (trie, shape) = Trie::of_document(&[&inner_image, &inner_pull]);
        let want = of(&input, &keys, &trie).expect("decided");
        // the edit as the engine writes it, and the same meaning written
        // otherwise, match; a string that is not the edited YAML does not
        for (output, same) in [
            (
                cm("initContainers:\n- name: a\n  image: r/x\nimagePullSecrets:\n- name: s\n"),
                true,
            ),
            (
                cm("imagePullSecrets: [{name: s}]\ninitContainers: [{image: r/x, name: a}]\n"),
                true,
            ),
            (
                cm("initContainers:\n- name: a\n  image: x\n#imagePullSecrets:\n"),
                false,
            ),
            (cm("initContainers:\n- name: a\n  image: r/x\n"), false),
        ] {
            assert_eq!(of(&output, &keys, &shape) == Some(want), same, "{output}");
        }
        // without reading it as YAML the string differs
        assert_ne!(
            of(
                &cm("imagePullSecrets: [{name: s}]\ninitContainers: [{image: r/x, name: a}]\n"),
                &keys,
                &Trie::default()
            ),
            Some(want)
        );
        // not a string there, or no mutate.yaml: the exact path decides
        for text in [
            "kind: ConfigMap\ndata:\n  mutate.yaml: {a: b}\n",
            "kind: ConfigMap\ndata: {}\n",
            "kind: ConfigMap\ndata:\n  mutate.yaml: 12\n",
        ] {
            assert_eq!(of(text, &keys, &trie), None, "{text}");
        }
    }
}
