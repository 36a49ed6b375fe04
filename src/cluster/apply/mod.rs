//! `kubectl tingyun apply`: server-side apply, restart, wait until Ready.
//!
//! Every object in the file is applied with server-side apply (field manager
//! `kubectl-tingyun` unless `--field-manager`), Namespaces and CRDs first,
//! kinds resolved by discovery. Each object gets one report line; failures
//! are reported per object and make the command exit 1. Afterwards the agent
//! workloads whose pods would keep stale settings are restarted
//! ([`super::restart`]) and waited for ([`super::wait`]).
//!
//! `--dry-run=server` applies with `dryRun=All` and prints a unified diff of
//! live vs merged per object; exit 1 when anything differs, 2 on errors.
//!
//! The steps are named functions here (`apply_async` calls them in
//! order); `check.rs` is the server dry run, `object.rs` writes one object,
//! `resolve.rs` finds kinds by discovery.
use std::collections::HashMap;
use std::io::Write;

mod check;
mod object;
mod resolve;

use check::{CreatedHere, create_containers_first, server_dry_run, warn_missing_secrets};
use object::{Checked, apply_checked};
use resolve::Resolver;

use super::objects::{self, Applied, Manifest};
use crate::dry_run::DryRun;
use crate::exit::Status;
use crate::output::Output;

/// Options shared by `apply` and `patch --apply` (see `src/cli/apply.rs`
/// for each flag).
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub connect: super::connect::ConnectOptions,
    /// Namespace for objects in the file that do not name one.
    pub namespace: Option<String>,
    /// Do not restart the agent after applying.
    pub no_restart: bool,
    /// How long to wait for the restarted agent to become Ready.
    pub timeout: std::time::Duration,
    /// Field manager for server-side apply.
    pub field_manager: String,
    /// Take ownership of fields managed by other tools.
    pub force_conflicts: bool,
    /// Proceed even when the apply removes the private-registry setup.
    pub allow_removal: bool,
    /// The registry `patch --registry` moved the images to (a move there is
    /// intended, not a loss).
    pub intended_registry: Option<String>,
}

/// The `apply` command: `file` (`-`: standard input) with `dry_run`.
pub fn run(
    file: &str,
    dry_run: DryRun,
    opts: &ApplyOptions,
    output: &mut Output,
) -> anyhow::Result<Status> {
    let source = crate::source::Source::read(file)?;
    let (label, text) = (source.label, source.text);
    match dry_run {
        DryRun::Client => {
            let objects = objects::apply_order(objects::parse(&label, &text)?);
            for m in &objects {
                writeln!(output.out, "{} (client dry run: nothing sent)", m.display())?;
            }
            Ok(Status::Done)
        }
        DryRun::Server => apply_text(&label, &text, opts, true, output),
        DryRun::Off => apply_text(&label, &text, opts, false, output),
    }
}

/// Apply already-read manifest text (used by `patch --apply`).
/// `label` names the source in messages (a path or `<stdin>`).
/// Reports go to `output.out`, problems and progress to `output.err`; an
/// error is returned for the caller to print.
pub fn apply_text(
    label: &str,
    text: &str,
    opts: &ApplyOptions,
    server_dry_run: bool,
    output: &mut Output,
) -> anyhow::Result<Status> {
    // The whole command never runs longer than --timeout plus one
    // --request-timeout (the wait gets what the apply left of --timeout).
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let bound = opts.timeout + opts.connect.request_timeout;
    crate::runtime::block_on(async {
        match tokio::time::timeout(
            bound,
            apply_async(
                label,
                text,
                opts,
                server_dry_run,
                deadline,
                output.reborrow(),
            ),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!(
                "gave up after {:?} (--timeout plus --request-timeout): the cluster answers too slowly; \
                 the objects reported above were applied",
                bound
            )),
        }
    })?
}

struct Ctx<'a> {
    client: kube::Client,
    server: String,
    default_namespace: String,
    opts: &'a ApplyOptions,
}

/// What a step decided: go on with its result, or stop with this status
/// (the reasons are written).
enum Step<T> {
    Go(T),
    Stop(Status),
}

/// The whole command, step by step: read -> plan (what the file creates
/// first) -> server dry run of every object -> review (registry guard,
/// warnings; a dry run prints its diffs here) -> apply -> restart -> wait.
async fn apply_async(
    label: &str,
    text: &str,
    opts: &ApplyOptions,
    dry_run: bool,
    deadline: tokio::time::Instant,
    mut io: Output<'_>,
) -> anyhow::Result<Status> {
    let since = k8s_openapi::jiff::Timestamp::now();
    let manifests = read(label, text)?;
    let conn = opts.connect.connect().await?;
    let ctx = Ctx {
        client: conn.client.clone(),
        server: conn.server.trim_end_matches('/').to_string(),
        default_namespace: opts
            .namespace
            .clone()
            .unwrap_or_else(|| conn.default_namespace.clone()),
        opts,
    };
    let mut created_here = CreatedHere::plan(&manifests);
    let mut resolver = Resolver {
        client: conn.client.clone(),
        cache: HashMap::new(),
        groups: HashMap::new(),
        from_crds: created_here.crds.clone(),
    };

    // Ctrl-C is ours from here on (a real apply): it is answered between
    // objects with what was applied. Polled once so the handler is in place
    // before the first write.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    if !dry_run {
        let _ = futures::FutureExt::now_or_never(&mut interrupted);
    }

    let mut checked =
        match server_dry_run(&ctx, &mut resolver, &manifests, &mut created_here, io.err).await? {
            Step::Go(c) => c,
            Step::Stop(status) => return Ok(status),
        };
    let pre_applied = if dry_run {
        HashMap::new()
    } else {
        match create_containers_first(
            &ctx,
            &mut resolver,
            &mut checked,
            &mut created_here,
            manifests.len(),
            io.err,
        )
        .await
        {
            Step::Go(p) => p,
            Step::Stop(status) => return Ok(status),
        }
    };
    if let Some(status) = review(&ctx, &checked, dry_run, io.err).await {
        return Ok(status);
    }
    if dry_run {
        return Ok(print_diffs(&checked, io.out));
    }
    let applied = match apply_all(
        &ctx,
        &mut resolver,
        &checked,
        pre_applied,
        &mut interrupted,
        &mut io,
    )
    .await?
    {
        Step::Go(a) => a,
        Step::Stop(status) => return Ok(status),
    };
    if opts.no_restart {
        return Ok(Status::Done);
    }
    // Ctrl-C from here on: everything is applied; say so instead of
    // leaving the user guessing (the handler above keeps SIGINT from
    // ending the process by itself).
    let finished = {
        let after_apply = restart_and_wait(&ctx, &applied, deadline, since, io.reborrow());
        tokio::pin!(after_apply);
        tokio::select! {
            r = &mut after_apply => Some(r),
            _ = &mut interrupted => None,
        }
    };
    match finished {
        Some(r) => r,
        None => {
            writeln!(
                io.err,
                "\ninterrupted: all {} objects were applied; the agent's restart/readiness was not awaited \
                 (check with: kubectl -n NAMESPACE rollout status)",
                applied.len()
            )?;
            Ok(Status::Interrupted)
        }
    }
}

/// Read: the file's objects in apply order (Namespaces and CRDs first).
fn read(label: &str, text: &str) -> anyhow::Result<Vec<Manifest>> {
    let manifests = objects::apply_order(objects::parse(label, text)?);
    if manifests.is_empty() {
        anyhow::bail!("{label}: no Kubernetes objects to apply");
    }
    Ok(manifests)
}

/// Review the dry run's result: never silently undo the private-registry
/// setup; warn about missing pull secrets and fields taken over from
/// kubectl. `Some(status)`: stop here.
async fn review(
    ctx: &Ctx<'_>,
    checked: &[Checked],
    dry_run: bool,
    err: &mut dyn Write,
) -> Option<Status> {
    let opts = ctx.opts;
    let changes: Vec<super::guard::Change> = checked
        .iter()
        .filter_map(|c| {
            Some(super::guard::Change {
                display: c.manifest.display(),
                live: c.before.as_ref()?,
                new: c.merged.as_ref().unwrap_or(&c.body),
            })
        })
        .collect();
    let losses = super::guard::losses(&changes, opts.intended_registry.as_deref());
    if !losses.is_empty() {
        for l in &losses {
            let _ = writeln!(err, "{}", l.describe());
        }
        if dry_run {
            let _ = writeln!(
                err,
                "warning: applying this would undo the private-registry setup of the live agent (above); \
                 without --allow-removal the apply will stop"
            );
        } else if opts.allow_removal {
            let _ = writeln!(
                err,
                "warning: proceeding with these removals (--allow-removal)"
            );
        } else {
            let _ = writeln!(
                err,
                "error: this apply would undo the private-registry setup of the live agent (above); \
                 nothing was applied. Patch the file with the flags named above \
                 (the live setup is kept), or pass --allow-removal to proceed anyway"
            );
            return Some(Status::Failed);
        }
    }
    warn_missing_secrets(ctx, checked, &mut *err).await;
    for c in checked.iter().filter(|c| !c.takeover.is_empty()) {
        let _ = writeln!(
            err,
            "{}: {}{}",
            c.manifest.display(),
            crate::k8s::conflict::takeover_summary(&c.takeover),
            if dry_run { " (dry run)" } else { "" }
        );
    }
    None
}

/// `--dry-run=server`: a diff of live against merged per object.
fn print_diffs(checked: &[Checked], out: &mut dyn Write) -> Status {
    let mut differences = 0usize;
    for c in checked {
        let name = super::livediff::file_name(
            &c.manifest.api_version,
            &c.manifest.kind,
            c.namespace.as_deref(),
            &c.manifest.name,
        );
        let d = match &c.merged {
            Some(merged) => super::livediff::diff(&name, c.before.as_ref(), merged),
            None => super::livediff::diff(&name, None, &c.body),
        };
        if !d.is_empty() {
            differences += 1;
            let _ = write!(out, "{d}");
        }
    }
    let _ = out.flush();
    if differences > 0 {
        Status::Differences
    } else {
        Status::Done
    }
}

/// Apply for real, in order, one report line each. Ctrl-C lists what was
/// already applied.
async fn apply_all(
    ctx: &Ctx<'_>,
    resolver: &mut Resolver,
    checked: &[Checked],
    mut pre_applied: HashMap<usize, Applied>,
    interrupted: &mut (impl std::future::Future + Unpin),
    io: &mut Output<'_>,
) -> anyhow::Result<Step<Vec<Applied>>> {
    let mut applied: Vec<Applied> = Vec::new();
    for (i, c) in checked.iter().enumerate() {
        if let Some(a) = pre_applied.remove(&i) {
            let _ = writeln!(io.out, "{} {}", c.manifest.display(), a.outcome());
            applied.push(a);
            continue;
        }
        let result = tokio::select! {
            r = apply_checked(ctx, resolver, c) => r,
            _ = &mut *interrupted => {
                let _ = io.out.flush();
                let done: Vec<String> = applied.iter().map(|a| a.manifest.display()).collect();
                let rest: Vec<String> = checked[applied.len()..].iter().map(|c| c.manifest.display()).collect();
                let _ = writeln!(
                    io.err,
                    "interrupted: applied {}: {}; not applied: {}",
                    done.len(),
                    if done.is_empty() { "none".to_string() } else { done.join(", ") },
                    rest.join(", ")
                );
                return Ok(Step::Stop(Status::Interrupted));
            }
        };
        match result {
            Ok(a) => {
                let took = if c.takeover.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", crate::k8s::conflict::takeover_summary(&c.takeover))
                };
                let _ = writeln!(io.out, "{} {}{took}", c.manifest.display(), a.outcome());
                applied.push(a);
            }
            Err(f) => {
                let _ = io.out.flush();
                let done: Vec<String> = applied.iter().map(|a| a.manifest.display()).collect();
                if !done.is_empty() {
                    let _ = writeln!(io.err, "applied before the failure: {}", done.join(", "));
                }
                anyhow::bail!("{}: {}", c.manifest.display(), f.message);
            }
        }
    }
    let _ = io.out.flush();
    Ok(Step::Go(applied))
}

/// Restart the agent workloads whose pods would keep stale settings
/// ([`super::restart`]), then wait for every agent workload of the file to
/// be Ready ([`super::wait`]), even when nothing needed a restart.
async fn restart_and_wait(
    ctx: &Ctx<'_>,
    applied: &[Applied],
    deadline: tokio::time::Instant,
    since: k8s_openapi::jiff::Timestamp,
    io: Output<'_>,
) -> anyhow::Result<Status> {
    let plan = super::restart::plan(applied);
    let mut targets = super::restart::execute(
        &ctx.client,
        &plan,
        &ctx.opts.field_manager,
        &ctx.server,
        &mut *io.out,
    )
    .await?;
    for w in applied.iter().filter_map(super::restart::workload_of) {
        if !targets.contains(&w) {
            targets.push(w);
        }
    }
    if targets.is_empty() {
        return Ok(Status::Done);
    }
    let ok = super::wait::wait(
        &ctx.client,
        &targets,
        super::wait::Limits {
            timeout: ctx.opts.timeout,
            deadline,
            watch_timeout_secs: ctx.opts.connect.watch_timeout_secs(),
            since,
        },
        &ctx.server,
        io,
    )
    .await?;
    Ok(if ok { Status::Done } else { Status::Failed })
}
