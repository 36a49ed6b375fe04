//! The push itself: which blobs the registry lacks, reading them (by
//! offset, or in one stream through a compressed archive), compressing and
//! uploading `--jobs` at a time, then manifests and indexes.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use super::blob::{Prepared, prepare};
use super::cache::Cache;
use super::plan::{self, PlanOptions, Pushed, Target};
use super::upload::{Uploader, push_error};
use super::{PushOptions, TargetReport, load};
use crate::cluster::dockerconfig::{PASSWORD_ENV, read_password};
use crate::exit::Status;
use crate::output::{Output, fit};
use crate::registry::archive::{Blob, BlobData, scan};
use crate::registry::credentials::UserConfigPaths;
use crate::registry::{Client, CredentialStore, Credentials, RegistryOptions};

/// One distinct blob of the run and the repositories that need it.
struct Job {
    blob: Blob,
    /// Digest as it will be in the registry, when known before reading.
    digest: Option<String>,
    size: Option<u64>,
    gzip: bool,
    /// Repository -> targets (indexes) that use it there.
    repos: BTreeMap<String, Vec<usize>>,
    what: String,
}

#[derive(Default)]
struct Counts {
    uploaded: usize,
    skipped: usize,
    bytes: u64,
}

struct Progress {
    total_bytes: AtomicU64,
    done_bytes: AtomicU64,
    total_blobs: AtomicUsize,
    done_blobs: AtomicUsize,
    start: Instant,
}

impl Progress {
    fn line(&self) -> String {
        format!(
            "pushing: {}/{} blobs, {:.1}/{:.1} MB read, {:.0} s",
            self.done_blobs.load(Ordering::Relaxed),
            self.total_blobs.load(Ordering::Relaxed),
            self.done_bytes.load(Ordering::Relaxed) as f64 / 1e6,
            self.total_bytes.load(Ordering::Relaxed) as f64 / 1e6,
            self.start.elapsed().as_secs_f64()
        )
    }
}

fn blob_key(b: &Blob) -> String {
    if b.needs_compression()
        && let Some(d) = &b.diff_id
    {
        return format!("diff:{d}");
    }
    if let Some(d) = &b.digest {
        return d.clone();
    }
    match &b.data {
        BlobData::At(l) => format!(
            "loc:{}!{}@{:?}",
            l.file.display(),
            l.inner.join("!"),
            l.offset
        ),
        BlobData::Inline(v) => crate::registry::archive::sha256(v),
    }
}

/// The run key of the tag-digest cache: sources (path, size, mtime) and options.
fn run_key(opts: &PushOptions, plan_opts: &PlanOptions) -> Option<String> {
    let mut parts = Vec::new();
    for s in &opts.sources {
        let p = std::fs::canonicalize(s).ok()?;
        let m = std::fs::metadata(&p).ok()?;
        if m.is_dir() {
            return None; // a directory's content is not cheap to fingerprint
        }
        let mtime = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        parts.push(format!("{}|{}|{}", p.display(), m.len(), mtime));
    }
    parts.push(plan_opts.project.to_string());
    parts.push(format!("{:?}", plan_opts.format));
    let mut ps: Vec<String> = plan_opts.platforms.iter().map(|p| p.to_string()).collect();
    ps.sort();
    parts.push(ps.join(","));
    Some(crate::registry::archive::sha256(
        parts.join("\n").as_bytes(),
    ))
}

/// Push: the report on `output.out`; warnings and progress on `output.err`
/// (a redrawn line cut to the terminal's width on a terminal, one line per
/// uploaded blob otherwise); the network on the one runtime ([`crate::runtime`]).
pub fn push(opts: &PushOptions, plan_opts: &PlanOptions, output: &mut Output) -> Result<Status> {
    let mut credentials = CredentialStore::new();
    if let Some(user) = &opts.username {
        let stdin = std::io::stdin();
        let password = read_password(
            opts.password_stdin,
            stdin.lock(),
            std::env::var_os(PASSWORD_ENV),
        )?;
        credentials.push_fixed(Credentials::new(user, password), "--username");
    }
    credentials.push_user_config(&UserConfigPaths::from_env());
    for w in &credentials.warnings {
        writeln!(output.err, "warning: {w}")?;
    }
    let client = Client::new(RegistryOptions {
        tls: opts.tls.clone(),
        credentials,
        timeout: opts.timeout,
        connect_timeout: Duration::from_secs(10),
    })?;
    let registry = plan_opts.project.host().to_string();
    let uploader = Arc::new(Uploader::new(client, registry.clone()));
    // One runtime for the whole run: the client's pooled connections
    // belong to the runtime that opened them.
    crate::runtime::block_on(push_all(opts, plan_opts, uploader, output))?
}

async fn push_all(
    opts: &PushOptions,
    plan_opts: &PlanOptions,
    uploader: Arc<Uploader>,
    output: &mut Output<'_>,
) -> Result<Status> {
    let cache = Arc::new(Cache::load());
    let key = run_key(opts, plan_opts);

    // An unchanged re-run: every tag already points where the last push put it.
    if let Some(key) = &key
        && let Some(reports) = cache.run(key)
    {
        let same = async {
            for r in &reports {
                let (Some(dest), Some(digest)) = (r["destination"].as_str(), r["digest"].as_str())
                else {
                    return Ok::<bool, anyhow::Error>(false);
                };
                let Ok(d) = crate::image::ImageRef::parse(dest) else {
                    return Ok(false);
                };
                let now = uploader
                    .manifest_digest(&d.repository(), d.reference())
                    .await
                    .map_err(|e| push_error(&d.repository(), "checking", e))?;
                if now.as_deref() != Some(digest) {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        .await?;
        if same {
            let reports: Vec<Value> = reports
                .into_iter()
                .map(|mut r| {
                    let total = r["blobsUploaded"].as_u64().unwrap_or(0)
                        + r["blobsSkipped"].as_u64().unwrap_or(0);
                    r["blobsSkipped"] = total.into();
                    r["blobsUploaded"] = 0.into();
                    r["bytesUploaded"] = 0.into();
                    r
                })
                .collect();
            finish(opts, &reports, true, output.out)?;
            return Ok(Status::Done);
        }
    }

    let images = load(&opts.sources)?;
    let targets = plan::plan(&images, plan_opts)?;
    let reports = push_targets(&targets, opts.jobs, uploader, cache.clone(), output).await?;
    let reports: Vec<Value> = reports.iter().map(TargetReport::to_json).collect();
    if let Some(key) = &key {
        cache.set_run(key, reports.clone());
    }
    cache.save();
    let nothing = reports.iter().all(|r| r["blobsUploaded"] == 0);
    finish(opts, &reports, nothing, output.out)?;
    Ok(Status::Done)
}

fn finish(opts: &PushOptions, reports: &[Value], nothing: bool, out: &mut dyn Write) -> Result<()> {
    if opts.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"images": reports}))?
        )?;
        return Ok(());
    }
    for r in reports {
        writeln!(
            out,
            "pushed {}@{} ({}): {} blobs uploaded ({:.1} MB), {} already there",
            r["destination"].as_str().unwrap_or(""),
            r["digest"].as_str().unwrap_or(""),
            r["platforms"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            r["blobsUploaded"],
            r["bytesUploaded"].as_f64().unwrap_or(0.0) / 1e6,
            r["blobsSkipped"],
        )?;
    }
    if nothing {
        writeln!(
            out,
            "nothing uploaded: all {} images were already in the registry with these digests",
            reports.len()
        )?;
    }
    Ok(())
}

async fn push_targets(
    targets: &[Target],
    jobs: usize,
    up: Arc<Uploader>,
    cache: Arc<Cache>,
    output: &mut Output<'_>,
) -> Result<Vec<TargetReport>> {
    // Distinct blobs and where they are needed.
    let mut job_list: Vec<Job> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // Per target, per member: keys of config and layers.
    let mut layout: Vec<Vec<(String, Vec<String>)>> = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        let repo = t.destination.repository();
        let mut members = Vec::new();
        for m in &t.members {
            let mut keys = Vec::new();
            let mut add = |b: &Blob, what: String| -> String {
                let k = blob_key(b);
                let j = *index.entry(k.clone()).or_insert_with(|| {
                    let (digest, size, gzip) = if b.needs_compression() {
                        match b.diff_id.as_deref().and_then(|d| cache.layer(d)) {
                            Some((d, s)) => (Some(d), Some(s), true),
                            None => (None, None, true),
                        }
                    } else {
                        (b.digest.clone(), b.digest.as_ref().map(|_| b.size), b.gzip)
                    };
                    job_list.push(Job {
                        blob: b.clone(),
                        digest,
                        size,
                        gzip,
                        repos: BTreeMap::new(),
                        what,
                    });
                    job_list.len() - 1
                });
                let users = job_list[j].repos.entry(repo.clone()).or_default();
                if !users.contains(&ti) {
                    users.push(ti);
                }
                k
            };
            let ck = add(
                &m.image.config,
                format!("{} {} config", t.destination, m.image.platform),
            );
            for (i, l) in m.image.layers.iter().enumerate() {
                keys.push(add(
                    l,
                    format!("{} {} layer {}", t.destination, m.image.platform, i + 1),
                ));
            }
            members.push((ck, keys));
        }
        layout.push(members);
    }
    let counts: Vec<Mutex<Counts>> = targets
        .iter()
        .map(|_| Mutex::new(Counts::default()))
        .collect();
    let counts = Arc::new(counts);
    let jobs_arc: Arc<Vec<Job>> = Arc::new(job_list);

    // Which (job, repo) pairs are missing, for blobs whose digest is known.
    let checks: Vec<(usize, String)> = jobs_arc
        .iter()
        .enumerate()
        .filter(|(_, j)| j.digest.is_some())
        .flat_map(|(i, j)| j.repos.keys().map(move |r| (i, r.clone())))
        .collect();
    let present: HashSet<(usize, String)> = futures::stream::iter(checks)
        .map(|(i, repo)| {
            let up = up.clone();
            let jobs = jobs_arc.clone();
            async move {
                let d = jobs[i].digest.clone().unwrap_or_default();
                let there = up
                    .exists(&repo, &d)
                    .await
                    .map_err(|e| push_error(&repo, "checking", e))?;
                Ok::<_, anyhow::Error>((i, repo, there))
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|(_, _, there)| *there)
        .map(|(i, r, _)| (i, r))
        .collect();
    let mut results: HashMap<usize, Pushed> = HashMap::new();
    let mut needed: Vec<usize> = Vec::new();
    for (i, j) in jobs_arc.iter().enumerate() {
        let all_there =
            j.digest.is_some() && j.repos.keys().all(|r| present.contains(&(i, r.clone())));
        if all_there {
            results.insert(
                i,
                Pushed {
                    digest: j.digest.clone().unwrap_or_default(),
                    size: j.size.unwrap_or(j.blob.size),
                    gzip: j.gzip,
                },
            );
            for users in j.repos.values() {
                for &t in users {
                    if let Ok(mut c) = counts[t].lock() {
                        c.skipped += 1;
                    }
                }
            }
        } else {
            needed.push(i);
        }
    }

    let progress = Arc::new(Progress {
        total_bytes: AtomicU64::new(needed.iter().map(|&i| jobs_arc[i].blob.size).sum()),
        done_bytes: AtomicU64::new(0),
        total_blobs: AtomicUsize::new(needed.len()),
        done_blobs: AtomicUsize::new(0),
        start: Instant::now(),
    });
    // On a terminal one progress line, redrawn every 250 ms and cut to the
    // terminal's width (a wrapped line would pile up); elsewhere one line
    // per uploaded blob.
    let redraw = output.tty && !needed.is_empty();

    // Feed the workers: random-access blobs are read by the worker; blobs
    // inside compressed archives come from one streaming pass per file.
    let (tx, rx) = tokio::sync::mpsc::channel::<(usize, Option<Vec<u8>>)>(jobs.max(1));
    let mut streamed: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    let mut feeders = Vec::new();
    {
        let mut direct = Vec::new();
        for &i in &needed {
            match &jobs_arc[i].blob.data {
                BlobData::At(l) if l.offset.is_none() => {
                    streamed.entry(l.file.clone()).or_default().push(i)
                }
                _ => direct.push(i),
            }
        }
        let txd = tx.clone();
        feeders.push(tokio::spawn(async move {
            for i in direct {
                if txd.send((i, None)).await.is_err() {
                    break;
                }
            }
            Ok::<(), anyhow::Error>(())
        }));
        for (file, idxs) in streamed {
            let txs = tx.clone();
            let jobs = jobs_arc.clone();
            feeders.push(tokio::task::spawn_blocking(move || {
                let mut by_chain: HashMap<Vec<String>, usize> = HashMap::new();
                for i in &idxs {
                    if let BlobData::At(l) = &jobs[*i].blob.data {
                        by_chain.insert(l.inner.clone(), *i);
                    }
                }
                let wanted: HashSet<Vec<String>> = by_chain.keys().cloned().collect();
                let mut seen = HashSet::new();
                scan::stream_wanted(&file, &wanted, &mut |chain, r| {
                    let Some(&i) = by_chain.get(chain) else { return Ok(()) };
                    if !seen.insert(i) {
                        return Ok(());
                    }
                    let mut v = Vec::with_capacity(jobs[i].blob.size as usize);
                    r.read_to_end(&mut v)?;
                    txs.blocking_send((i, Some(v))).map_err(|_| anyhow!("push stopped"))?;
                    Ok(())
                })?;
                if seen.len() != idxs.len() {
                    anyhow::bail!(
                        "{}: some blobs were not found when reading the archive again; did it change during the push?",
                        file.display()
                    );
                }
                Ok(())
            }));
        }
    }
    drop(tx);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let stream = futures::stream::unfold(rx, |rx| async move {
        let item = rx.lock().await.recv().await;
        item.map(|it| (it, rx))
    });
    let uploads = stream
        .map(|(i, bytes)| {
            let up = up.clone();
            let jobs = jobs_arc.clone();
            let counts = counts.clone();
            let cache = cache.clone();
            let progress = progress.clone();
            async move {
                let r = work(i, bytes, &jobs, &up, &counts, &cache).await;
                progress.done_blobs.fetch_add(1, Ordering::Relaxed);
                progress
                    .done_bytes
                    .fetch_add(jobs[i].blob.size, Ordering::Relaxed);
                r.map(|(i, p, uploaded)| (i, p, uploaded.then(|| jobs[i].what.clone())))
            }
        })
        .buffer_unordered(jobs.max(1));
    let mut uploads = std::pin::pin!(uploads);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut outcomes: Vec<Result<(usize, Pushed)>> = Vec::new();
    loop {
        tokio::select! {
            next = uploads.next() => match next {
                Some(r) => {
                    if !output.tty
                        && let Ok((_, p, Some(what))) = &r
                    {
                        let _ = writeln!(
                            output.err,
                            "uploaded {} ({:.1} MB): {}",
                            p.digest,
                            p.size as f64 / 1e6,
                            what
                        );
                    }
                    outcomes.push(r.map(|(i, p, _)| (i, p)));
                }
                None => break,
            },
            _ = tick.tick(), if redraw => {
                let _ = write!(output.err, "\r\x1b[K{}", fit(&progress.line(), output.width));
                let _ = output.err.flush();
            }
        }
    }
    for f in feeders {
        f.await.map_err(|e| anyhow!("internal: {e}"))??;
    }
    if redraw {
        let _ = write!(output.err, "\r\x1b[K");
    }
    cache.save();
    for o in outcomes {
        let (i, p) = o?;
        results.insert(i, p);
    }

    // Manifests and indexes.
    let mut reports = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        let repo = t.destination.repository();
        let tag = t.destination.reference().to_string();
        let mut entries = Vec::new();
        for (m, (ck, lks)) in t.members.iter().zip(&layout[ti]) {
            let (mt, bytes) = match (&m.image.manifest, m.keep_manifest) {
                (Some(v), true) => (v.media_type.clone(), v.bytes.as_ref().clone()),
                _ => {
                    let get = |k: &String| -> Result<Pushed> {
                        let j = index[k];
                        results
                            .get(&j)
                            .cloned()
                            .ok_or_else(|| anyhow!("internal: blob {k} not pushed"))
                    };
                    let config = get(ck)?;
                    let layers = lks.iter().map(get).collect::<Result<Vec<_>>>()?;
                    let bytes = plan::build_manifest(&m.image, &config, &layers, t.docker);
                    let mt = if t.docker {
                        crate::registry::archive::MT_DOCKER_MANIFEST
                    } else {
                        crate::registry::archive::MT_OCI_MANIFEST
                    };
                    (mt.to_string(), bytes)
                }
            };
            let digest = crate::registry::archive::sha256(&bytes);
            let reference = if t.multi { digest.clone() } else { tag.clone() };
            let size = bytes.len() as u64;
            up.put_manifest(&repo, &reference, &mt, Bytes::from(bytes))
                .await
                .map_err(|e| push_error(&repo, "pushing the manifest to", e))?;
            entries.push((m.image.platform.clone(), digest, size, mt));
        }
        let (digest, media_type) = if t.multi {
            let (mt, bytes) = match &t.keep_index {
                Some(v) => (v.media_type.clone(), v.bytes.as_ref().clone()),
                None => (
                    if t.docker {
                        crate::registry::archive::MT_DOCKER_LIST
                    } else {
                        crate::registry::archive::MT_OCI_INDEX
                    }
                    .to_string(),
                    plan::build_index(&entries, t.docker),
                ),
            };
            let digest = crate::registry::archive::sha256(&bytes);
            up.put_manifest(&repo, &tag, &mt, Bytes::from(bytes))
                .await
                .map_err(|e| push_error(&repo, "pushing the index to", e))?;
            (digest, mt)
        } else {
            (entries[0].1.clone(), entries[0].3.clone())
        };
        let c = counts[ti].lock().map_err(|_| anyhow!("internal: lock"))?;
        reports.push(TargetReport {
            source: t.source_text(),
            destination: t.destination.to_string(),
            digest: Some(digest),
            media_type,
            platforms: t.platforms(),
            blobs_uploaded: c.uploaded,
            blobs_skipped: c.skipped,
            bytes_uploaded: c.bytes,
        });
    }
    Ok(reports)
}

/// Read, check, compress and upload one blob to every repository needing it.
async fn work(
    i: usize,
    bytes: Option<Vec<u8>>,
    jobs: &Arc<Vec<Job>>,
    up: &Uploader,
    counts: &Arc<Vec<Mutex<Counts>>>,
    cache: &Cache,
) -> Result<(usize, Pushed, bool)> {
    let job = &jobs[i];
    let jobs2 = jobs.clone();
    let prepared: Prepared = tokio::task::spawn_blocking(move || {
        let job = &jobs2[i];
        let bytes = match bytes {
            Some(b) => b,
            None => job.blob.data.read_all().with_context(|| job.what.clone())?,
        };
        prepare(&job.blob, bytes, &job.what)
    })
    .await
    .map_err(|e| anyhow!("internal: {e}"))??;
    if job.blob.needs_compression()
        && let Some(d) = &job.blob.diff_id
    {
        cache.set_layer(d, &prepared.digest, prepared.size);
    }
    let mut first: Option<String> = None;
    let mut any = false;
    for (repo, users) in &job.repos {
        let there = up
            .exists(repo, &prepared.digest)
            .await
            .map_err(|e| push_error(repo, "checking", e))?;
        let mut uploaded = false;
        if !there {
            let mounted = match &first {
                Some(from) => up
                    .mount(repo, &prepared.digest, from)
                    .await
                    .unwrap_or(false),
                None => false,
            };
            if !mounted {
                up.upload(repo, &prepared.digest, prepared.data.clone())
                    .await
                    .map_err(|e| push_error(repo, "uploading to", e))?;
                uploaded = true;
                any = true;
            }
        }
        first.get_or_insert_with(|| repo.clone());
        for (n, &t) in users.iter().enumerate() {
            if let Ok(mut c) = counts[t].lock() {
                if uploaded && n == 0 {
                    c.uploaded += 1;
                    c.bytes += prepared.size;
                } else {
                    c.skipped += 1;
                }
            }
        }
    }
    Ok((
        i,
        Pushed {
            digest: prepared.digest,
            size: prepared.size,
            gzip: prepared.gzip,
        },
        any,
    ))
}
