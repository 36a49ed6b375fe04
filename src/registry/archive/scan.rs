//! Walking a source (file or directory) into [`Container`]s: one per tar
//! archive or directory, each a table of the files it holds. Nothing is
//! unpacked to disk: small files (manifests, configs) are kept in memory,
//! large ones are remembered by where they are ([`BlobLoc`]) so that the
//! push can read them again — by offset when the bytes sit uncompressed in
//! a file on disk, by streaming the archive again otherwise.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use flate2::read::MultiGzDecoder;

/// Files up to this size are read into memory while scanning (manifests,
/// configs, index files, small layers).
pub const INLINE_LIMIT: u64 = 256 * 1024;

/// Where a large file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLoc {
    /// A file on disk: the source itself, or a file inside a source directory.
    pub file: PathBuf,
    /// Offset of the bytes in `file` when they are stored there
    /// uncompressed (plain tar, nested plain tars, plain files).
    pub offset: Option<u64>,
    /// Entry paths from `file` down to the blob, one per archive level
    /// (empty for a plain file).
    pub inner: Vec<String>,
    pub size: u64,
}

/// A file's bytes: in memory, or somewhere to read again.
#[derive(Debug, Clone)]
pub enum BlobData {
    Inline(Arc<Vec<u8>>),
    At(BlobLoc),
}

impl BlobData {
    /// Open the bytes for reading (a fresh reader each call).
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        match self {
            BlobData::Inline(b) => Ok(Box::new(Cursor::new(ArcBytes(b.clone())))),
            BlobData::At(loc) => open_loc(loc),
        }
    }

    /// Whether [`open`](Self::open) is cheap (memory or a seek), as opposed
    /// to streaming a compressed archive up to the entry.
    pub fn random_access(&self) -> bool {
        match self {
            BlobData::Inline(_) => true,
            BlobData::At(loc) => loc.offset.is_some(),
        }
    }

    pub fn read_all(&self) -> Result<Vec<u8>> {
        match self {
            BlobData::Inline(b) => Ok(b.as_ref().clone()),
            BlobData::At(_) => {
                let mut v = Vec::new();
                self.open()?.read_to_end(&mut v)?;
                Ok(v)
            }
        }
    }
}

struct ArcBytes(Arc<Vec<u8>>);
impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// One file of a container.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub data: BlobData,
    pub size: u64,
    /// Starts with the gzip magic bytes.
    pub gzip: bool,
}

/// One tar archive or directory and the files it holds, by path relative
/// to its root (`a/b.json`, no leading `./`).
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// For messages: `SOURCE` or `SOURCE!inner/a.tar!b.tar`.
    pub origin: String,
    /// The archive's file name without `.tar`/`.tar.gz`/`.tgz` (or the
    /// directory's name): a fallback image name for OCI layouts that carry
    /// only a tag.
    pub stem: String,
    pub files: BTreeMap<String, FileEntry>,
    /// Symbolic and hard links: path -> target path (resolved, relative to
    /// the root).
    pub links: BTreeMap<String, String>,
}

impl Container {
    /// The file at `path`, following links.
    pub fn get(&self, path: &str) -> Option<&FileEntry> {
        let mut p = normalize(path);
        for _ in 0..16 {
            if let Some(f) = self.files.get(&p) {
                return Some(f);
            }
            p = self.links.get(&p)?.clone();
        }
        None
    }
}

/// Scan a source: a file (tar, tar.gz, nested) or a directory.
pub fn scan(source: &Path) -> Result<Vec<Container>> {
    let meta =
        std::fs::metadata(source).with_context(|| format!("{}: cannot read", source.display()))?;
    let mut out = Vec::new();
    if meta.is_dir() {
        let mut dir = Container {
            origin: source.display().to_string(),
            stem: source
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..Default::default()
        };
        walk_dir(source, source, &mut dir, &mut out)?;
        if !dir.files.is_empty() {
            out.push(dir);
        }
    } else {
        scan_file(source, &source.display().to_string(), &mut out)?;
    }
    Ok(out)
}

fn walk_dir(root: &Path, dir: &Path, c: &mut Container, out: &mut Vec<Container>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let meta =
            std::fs::metadata(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if meta.is_dir() {
            walk_dir(root, &path, c, out)?;
        } else if meta.is_file() {
            if is_archive_name(&rel) {
                scan_file(&path, &path.display().to_string(), out)?;
                continue;
            }
            let size = meta.len();
            let mut f =
                File::open(&path).with_context(|| format!("{}: cannot open", path.display()))?;
            let (data, gzip) = if size <= INLINE_LIMIT {
                let mut v = Vec::with_capacity(size as usize);
                f.read_to_end(&mut v)?;
                let gz = is_gzip(&v);
                (BlobData::Inline(Arc::new(v)), gz)
            } else {
                let mut head = [0u8; 2];
                let n = read_up_to(&mut f, &mut head)?;
                (
                    BlobData::At(BlobLoc {
                        file: path.clone(),
                        offset: Some(0),
                        inner: vec![],
                        size,
                    }),
                    is_gzip(&head[..n]),
                )
            };
            c.files.insert(rel, FileEntry { data, size, gzip });
        }
    }
    Ok(())
}

fn scan_file(path: &Path, origin: &str, out: &mut Vec<Container>) -> Result<()> {
    let mut f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut head = [0u8; 512];
    let n = read_up_to(&mut f, &mut head)?;
    f.seek(SeekFrom::Start(0))?;
    let stem = archive_stem(&path.file_name().unwrap_or_default().to_string_lossy());
    let base = Base {
        file: path.to_path_buf(),
        offset: None,
        inner: vec![],
        origin: origin.to_string(),
        stem,
    };
    if is_gzip(&head[..n]) {
        let r = MultiGzDecoder::new(BufReader::with_capacity(1 << 20, f));
        walk_tar(r, base, out).with_context(|| format!("{origin}: not a readable .tar.gz"))
    } else if is_tar(&head[..n]) {
        walk_tar_seek(
            f,
            Base {
                offset: Some(0),
                ..base
            },
            out,
        )
        .with_context(|| format!("{origin}: not a readable tar archive"))
    } else {
        bail!(
            "{origin}: neither a tar archive, a .tar.gz nor a directory: give the image archive as downloaded, an unpacked directory, a `docker save` tar or an OCI layout"
        )
    }
}

struct Base {
    file: PathBuf,
    /// Offset of this tar's first byte in `file`, if stored uncompressed.
    offset: Option<u64>,
    inner: Vec<String>,
    origin: String,
    stem: String,
}

fn walk_tar_seek(f: File, base: Base, out: &mut Vec<Container>) -> Result<()> {
    let mut ar = tar::Archive::new(f);
    let mut c = new_container(&base);
    for entry in ar.entries_with_seek()? {
        on_entry(entry?, &base, &mut c, out)?;
    }
    out.push(c);
    Ok(())
}

fn walk_tar<R: Read>(r: R, base: Base, out: &mut Vec<Container>) -> Result<()> {
    let mut ar = tar::Archive::new(r);
    let mut c = new_container(&base);
    for entry in ar.entries()? {
        on_entry(entry?, &base, &mut c, out)?;
    }
    out.push(c);
    Ok(())
}

fn new_container(base: &Base) -> Container {
    Container {
        origin: base.origin.clone(),
        stem: base.stem.clone(),
        ..Default::default()
    }
}

fn on_entry<R: Read>(
    mut entry: tar::Entry<'_, R>,
    base: &Base,
    c: &mut Container,
    out: &mut Vec<Container>,
) -> Result<()> {
    let raw = entry.path()?.to_string_lossy().into_owned();
    let path = normalize(&raw);
    if path.is_empty() {
        return Ok(());
    }
    let kind = entry.header().entry_type();
    if kind.is_symlink() || kind.is_hard_link() {
        if let Some(target) = entry.link_name()? {
            let target = target.to_string_lossy().replace('\\', "/");
            let resolved = if kind.is_hard_link() || target.starts_with('/') {
                normalize(&target)
            } else {
                let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                normalize(&format!("{dir}/{target}"))
            };
            c.links.insert(path, resolved);
        }
        return Ok(());
    }
    if !kind.is_file() {
        return Ok(());
    }
    let size = entry.size();
    let pos = entry.raw_file_position();
    let mut inner = base.inner.clone();
    inner.push(path.clone());
    let offset = base.offset.map(|o| o + pos);
    if size <= INLINE_LIMIT && !is_archive_name(&path) {
        let mut v = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut v)?;
        let gzip = is_gzip(&v);
        c.files.insert(
            path,
            FileEntry {
                data: BlobData::Inline(Arc::new(v)),
                size,
                gzip,
            },
        );
        return Ok(());
    }
    let mut head = vec![0u8; 512.min(size as usize)];
    let n = read_up_to(&mut entry, &mut head)?;
    head.truncate(n);
    let gzip = is_gzip(&head);
    if is_archive_name(&path) && (gzip || is_tar(&head)) {
        let nested = Base {
            file: base.file.clone(),
            offset: if gzip { None } else { offset },
            inner,
            origin: format!("{}!{}", base.origin, path),
            stem: archive_stem(path.rsplit('/').next().unwrap_or(&path)),
        };
        let r = Cursor::new(head).chain(entry);
        let r: Box<dyn Read + '_> = if gzip {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, r)))
        } else {
            Box::new(r)
        };
        return walk_tar(r, nested, out).with_context(|| format!("{path}: not a readable archive"));
    }
    c.files.insert(
        path,
        FileEntry {
            data: BlobData::At(BlobLoc {
                file: base.file.clone(),
                offset,
                inner,
                size,
            }),
            size,
            gzip,
        },
    );
    Ok(())
}

/// A fresh reader of the bytes at `loc`.
fn open_loc(loc: &BlobLoc) -> Result<Box<dyn Read + Send>> {
    let mut f =
        File::open(&loc.file).with_context(|| format!("{}: cannot open", loc.file.display()))?;
    if let Some(off) = loc.offset {
        f.seek(SeekFrom::Start(off))?;
        return Ok(Box::new(f.take(loc.size)));
    }
    // Stream the archive again down the chain of entries.
    let mut out = None;
    let wanted = std::collections::HashSet::from([loc.inner.clone()]);
    stream_wanted(&loc.file, &wanted, &mut |_, r| {
        let mut v = Vec::with_capacity(loc.size as usize);
        r.read_to_end(&mut v)?;
        out = Some(v);
        Ok(())
    })?;
    match out {
        Some(v) => Ok(Box::new(Cursor::new(v))),
        None => bail!(
            "{}: {} is no longer in the archive (did the file change during the push?)",
            loc.file.display(),
            loc.inner.join("!")
        ),
    }
}

/// Stream `file` once (through nested archives) and call `f` with a reader
/// of every entry whose chain of entry paths is in `wanted`, in archive
/// order. Nothing is buffered beyond the decoders.
pub fn stream_wanted(
    file: &Path,
    wanted: &std::collections::HashSet<Vec<String>>,
    f: &mut dyn FnMut(&[String], &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut prefixes = std::collections::HashSet::new();
    for w in wanted {
        for i in 1..w.len() {
            prefixes.insert(w[..i].to_vec());
        }
    }
    let mut fh = File::open(file).with_context(|| format!("{}: cannot open", file.display()))?;
    let mut head = [0u8; 2];
    let n = read_up_to(&mut fh, &mut head)?;
    fh.seek(SeekFrom::Start(0))?;
    if is_gzip(&head[..n]) {
        let r = MultiGzDecoder::new(BufReader::with_capacity(1 << 20, fh));
        walk_wanted(r, &[], wanted, &prefixes, f)
    } else {
        walk_wanted(fh, &[], wanted, &prefixes, f)
    }
}

fn walk_wanted<R: Read>(
    r: R,
    prefix: &[String],
    wanted: &std::collections::HashSet<Vec<String>>,
    prefixes: &std::collections::HashSet<Vec<String>>,
    f: &mut dyn FnMut(&[String], &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let mut ar = tar::Archive::new(r);
    for e in ar.entries()? {
        let mut e = e?;
        let mut chain = prefix.to_vec();
        chain.push(normalize(&e.path()?.to_string_lossy()));
        if wanted.contains(&chain) {
            f(&chain, &mut e)?;
        } else if prefixes.contains(&chain) {
            let mut head = [0u8; 2];
            let n = read_up_to(&mut e, &mut head)?;
            let gz = is_gzip(&head[..n]);
            let r = Cursor::new(head[..n].to_vec()).chain(e);
            let r: Box<dyn Read + '_> = if gz {
                Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, r)))
            } else {
                Box::new(r)
            };
            walk_wanted(r, &chain, wanted, prefixes, f)?;
        }
    }
    Ok(())
}

pub fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    parts.join("/")
}

pub fn is_gzip(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

fn is_tar(b: &[u8]) -> bool {
    b.len() >= 262 && &b[257..262] == b"ustar"
}

/// `.tar`, `.tar.gz`, `.tgz` files that are not image layers.
pub fn is_archive_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    let archive = lower.ends_with(".tar") || lower.ends_with(".tar.gz") || lower.ends_with(".tgz");
    archive && lower != "layer.tar" && !path.contains("blobs/")
}

pub fn archive_stem(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    for ext in [".tar.gz", ".tgz", ".tar"] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name.to_string()
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
