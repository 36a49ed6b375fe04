//! `kubectl tingyun patch`: plan typed edits as byte splices, apply them,
//! verify the result by meaning, then show a diff or write atomically.
//!
//! read ([`crate::source`]) -> parse + plan ([`plan`]) -> [`splice`] ->
//! [`verify`] -> [`crate::diff`] / [`crate::write`] -> optional cluster apply.
mod annotations;
mod digest;
mod images;
pub mod inventory;
mod layer;
pub mod options;
mod parallel;
pub mod plan;
mod pull_secret;
pub mod splice;
mod syntax;
pub mod verify;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};

use crate::dry_run::DryRun;
use crate::error::Located;
use crate::exit::Status;
use crate::output::Output;
use crate::source::Source;
pub use images::{looks_like_image, relocate};
pub use options::{EditSet, PatchOptions};

/// One change as reported to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// 1-based line in the output.
    pub line: usize,
    pub object: String,
    /// The object's namespace, if it names one.
    pub namespace: Option<String>,
    pub what: String,
}

/// The result of patching one text.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub output: String,
    pub changes: Vec<Reported>,
    /// `LINE:COL: warning: ...` lines (without the file name).
    pub warnings: Vec<String>,
    pub objects: usize,
}

impl Reported {
    /// The object as change lines name it: `Kind/name`, or
    /// `Kind/namespace/name` when it names a namespace (as `images` does).
    pub fn object_label(&self) -> String {
        let mut out = String::new();
        self.push_object_label(&mut out);
        out
    }

    /// [`Reported::object_label`] appended to `out`.
    fn push_object_label(&self, out: &mut String) {
        match self.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            Some(ns) => match self.object.split_once('/') {
                Some((kind, name)) => {
                    for part in [kind, "/", ns, "/", name] {
                        out.push_str(part);
                    }
                }
                None => {
                    for part in [&self.object, "/", ns] {
                        out.push_str(part);
                    }
                }
            },
            None => out.push_str(&self.object),
        }
    }
}

impl Outcome {
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }

    /// How many objects changed, told apart by namespace, kind and name
    /// (`Deployment/web` in two namespaces is two objects).
    pub fn objects_changed(&self) -> usize {
        let mut o: Vec<(Option<&str>, &str)> = self
            .changes
            .iter()
            .map(|c| (c.namespace.as_deref(), c.object.as_str()))
            .collect();
        o.sort_unstable();
        o.dedup();
        o.len()
    }
}

/// Patch a decoded source: plan, splice, verify. User errors come back as
/// [`Located`]; a result that fails the self-check is an internal error and
/// nothing is produced.
pub fn patch_source(source: &Source, edits: &EditSet) -> anyhow::Result<Outcome> {
    patch_source_then(source, edits, |_, _| ()).map(|(outcome, ())| outcome)
}

/// [`patch_source`], and `stage(output, changed)` once the output is known:
/// for a big output on a second thread while the self-check runs (writing
/// and syncing the result took as long as half the check), otherwise after
/// the check passed. Its result is dropped unused when the check fails;
/// `stage` must make nothing visible that a drop does not undo.
pub(crate) fn patch_source_then<T: Send>(
    source: &Source,
    edits: &EditSet,
    stage: impl FnOnce(&str, bool) -> T + Send,
) -> anyhow::Result<(Outcome, T)> {
    let mut plan = plan::plan(source, edits)?;
    if plan.objects == 0 {
        return Err(Located::new(
            source.label.clone(),
            1,
            1,
            "no Kubernetes object (a document with apiVersion and kind) in this file",
        )
        .into());
    }
    // (most runs have none: then no line index and no Secret search)
    let mut warnings = if plan.warnings.is_empty() {
        Vec::new()
    } else {
        warning_lines(source, &plan.warnings)
    };
    let seen = plan.seen;
    for (asked, found, msg) in [
        (
            edits.pull_secret.is_some(),
            seen.service_accounts,
            "--pull-secret: no ServiceAccount in this file",
        ),
        (
            edits.inject_pull_secret.is_some(),
            seen.mutate_blocks,
            "--inject-pull-secret: no ConfigMap with data.mutate.yaml in this file",
        ),
        (
            edits.registry.is_some(),
            seen.images,
            "--registry: no container image in this file",
        ),
        (
            !edits.annotations.is_empty(),
            seen.pod_templates,
            "annotations: no pod template (Pod, Deployment, DaemonSet, ...) in this file",
        ),
    ] {
        if asked && found == 0 {
            warnings.push(format!("warning: {msg}"));
        }
    }
    let mut changes = std::mem::take(&mut plan.changes);
    let (output, offsets) = match splice::apply(&source.text, &mut changes) {
        Ok(done) => done,
        // (the plan leaves keys written twice to the self-check; edits of
        // such a document are refused for that first)
        Err(e) => match plan::first_duplicate(source, &plan.chunks, plan.chunks.len()) {
            Some(dup) => return Err(dup.into()),
            None => bail!("internal error: {e}; nothing was written"),
        },
    };
    let changed = !changes.is_empty();
    let staged = if parallel::worth_a_thread(output.len()) {
        let (staged, checked) = parallel::join(
            || stage(&output, changed),
            || verify::check(source, &output, &plan),
        );
        accept(source, checked)?;
        staged
    } else {
        accept(source, verify::check(source, &output, &plan))?;
        stage(&output, changed)
    };
    // line numbers: newlines counted from one change to the next (the
    // changes are in order; no index of the whole output is needed)
    let mut lines = crate::source::LineCounter::new(&output);
    let reported = changes
        .into_iter()
        .zip(offsets)
        .map(|(c, off)| {
            let lead = c.splice.text.len() - c.splice.text.trim_start_matches(['\r', '\n']).len();
            Reported {
                line: lines.line(off + lead),
                object: c.object,
                namespace: c.namespace,
                what: c.what,
            }
        })
        .collect();
    let outcome = Outcome {
        output,
        changes: reported,
        warnings,
        objects: plan.objects,
    };
    Ok((outcome, staged))
}

/// The self-check's verdict as the command's result: the input's own
/// errors located in the file, a mismatch an internal error.
fn accept(source: &Source, checked: Result<(), verify::Failure>) -> anyhow::Result<()> {
    match checked {
        Ok(()) => Ok(()),
        Err(verify::Failure::Input(located)) => Err(located.into()),
        Err(verify::Failure::Shared {
            object,
            detail,
            anchor,
            name,
        }) => Err(source
            .error_at(
                anchor,
                format!(
                    "{object}: cannot edit safely: the anchor &{name} is used elsewhere \
                         (*{name} or <<: *{name}), so the edit would also change another place \
                         ({detail}); replace *{name} with a copy of the anchored value, then run \
                         again. Nothing was written."
                ),
            )
            .into()),
        Err(verify::Failure::Mismatch { object, detail }) => {
            bail!(
                "internal error: the edit of {object} failed its self-check ({detail}); nothing was written. \
                 Please report this with the input file."
            )
        }
    }
}

/// The `LINE:COL: warning: ...` lines of `found`; a warning about a
/// Secret's data/stringData value hides it, as diffs do.
fn warning_lines(source: &Source, found: &[plan::Warning]) -> Vec<String> {
    // (warnings come in document order: lines counted from one to the next)
    let mut lines = crate::source::LineCounter::new(&source.text);
    let offsets: Vec<usize> = found.iter().map(|w| w.offset).collect();
    let secrets = crate::diff::secret_value_spans_around(&source.text, &offsets);
    found
        .iter()
        .map(|w| {
            let (line, col) = lines.line_col(w.offset);
            let msg = match secrets
                .iter()
                .find(|(s, e)| *s <= w.offset && w.offset < *e)
            {
                Some(&(s, e)) => crate::diff::mask_message(&w.msg, &source.text[s..e]),
                None => w.msg.clone(),
            };
            format!("{line}:{col}: warning: {msg}")
        })
        .collect()
}

/// Warnings, one line per change and the summary, to `output.err` at once
/// (standard error is unbuffered, and one write per piece of a line was a
/// tenth of the run time on a thousand documents).
fn report(label: &str, outcome: &Outcome, dry: bool, output: &mut Output) -> anyhow::Result<()> {
    let mut err = String::new();
    for w in &outcome.warnings {
        if w.starts_with("warning:") {
            writeln!(err, "{w}")?;
        } else {
            writeln!(err, "{label}:{w}")?;
        }
    }
    // (one line per change: pieces appended, not formatted, since a
    // thousand documents give thousands of lines)
    for c in &outcome.changes {
        err.push_str(label);
        err.push(':');
        push_decimal(&mut err, c.line);
        err.push_str(": ");
        c.push_object_label(&mut err);
        err.push_str(": ");
        err.push_str(&c.what);
        err.push('\n');
    }
    let objects = outcome.objects_changed();
    if outcome.changed() {
        let n = outcome.changes.len();
        writeln!(
            err,
            "{label}: {n} change{} in {objects} object{}{}",
            if n == 1 { "" } else { "s" },
            if objects == 1 { "" } else { "s" },
            if dry {
                " (dry run: nothing written)"
            } else {
                ""
            }
        )?;
    } else {
        writeln!(err, "{label}: already up to date, nothing changed")?;
    }
    output.err.write_all(err.as_bytes())?;
    Ok(())
}

/// `n` in decimal, appended to `out`.
fn push_decimal(out: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // (ASCII digits)
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// The `patch` command: changes and warnings to `output.err`, a diff or
/// the result to `output.out` (or the file).
pub fn run(args: &PatchOptions, output: &mut Output) -> anyhow::Result<Status> {
    let edits = EditSet::from_options(args)?;
    if args.dry_run == DryRun::Server && !args.apply {
        bail!(
            "--dry-run=server needs --apply (it asks the cluster); use --dry-run to see the local diff"
        );
    }
    let source = Source::read(&args.file)?;
    let label = &source.label;
    let dry = args.dry_run.any();

    // Where the result goes: stdin goes to stdout, except with --apply,
    // where the cluster is where the result goes (`-o -` still prints it);
    // with --apply and no -o, the cluster is the only destination.
    let to_stdout = !dry
        && (args.output.as_deref() == Some("-")
            || (args.output.is_none() && source.path.is_none() && !args.apply));
    let to_file = |changed: bool| -> Option<(&Path, &str)> {
        match (&args.output, source.path.as_deref()) {
            _ if dry || to_stdout => None,
            (Some(out), _) => Some((Path::new(out), out.as_str())),
            (None, Some(path)) if changed => Some((path, label.as_str())),
            _ => None,
        }
    };
    // The file is staged (written and synced beside its target) while the
    // result is checked, and put in place only once the check passed.
    let (outcome, staged) = patch_source_then(&source, &edits, |out, changed| {
        to_file(changed).map(|(path, name)| {
            crate::write::Staged::new(path, &source.encode(out))
                .map(|staged| (staged, name))
                .with_context(|| format!("cannot write {name}"))
        })
    })?;
    // Then the report and the rename, side by side for a big file (each
    // takes a few tenths of a millisecond on a thousand documents: the
    // rename frees the old file's blocks). The file is put in place even
    // if the report cannot be written; a write error comes after the report.
    let big = staged.is_some() && parallel::worth_a_thread(outcome.output.len());
    let commit = || {
        staged.map_or(Ok(()), |staged| {
            let (staged, name) = staged?;
            staged
                .commit()
                .with_context(|| format!("cannot write {name}"))
        })
    };
    let (written, reported) = if big {
        parallel::join(commit, || report(label, &outcome, dry, output))
    } else {
        let reported = report(label, &outcome, dry, output);
        (commit(), reported)
    };
    reported?;
    written?;

    if args.dry_run == DryRun::Client {
        // the file's bytes (BOM, CRs) so that `patch` / `git apply` apply it
        let bom = if source.bom { "\u{feff}" } else { "" };
        let diff = crate::diff::unified(
            &format!("{bom}{}", source.text),
            &format!("{bom}{}", outcome.output),
            label,
            output.color,
        );
        output.out.write_all(diff.as_bytes())?;
    } else if to_stdout {
        output.out.write_all(&source.encode(&outcome.output))?;
    }
    if args.apply && args.dry_run == DryRun::Client {
        writeln!(
            output.err,
            "{label}: --apply with --dry-run=client: nothing sent to the cluster"
        )?;
        return Ok(Status::Done);
    }
    if args.apply {
        let mut opts = args.cluster.clone();
        opts.intended_registry = args.registry.clone();
        return crate::cluster::apply::apply_text(
            label,
            &outcome.output,
            &opts,
            args.dry_run == DryRun::Server,
            output,
        );
    }
    Ok(Status::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_format_writes_them() {
        for n in [0, 7, 10, 99, 100, 4_096, 1_000_001, usize::MAX] {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn change_lines_name_the_namespace_between_kind_and_name() {
        let change = |object: &str, namespace: Option<&str>| Reported {
            line: 1,
            object: object.into(),
            namespace: namespace.map(String::from),
            what: String::new(),
        };
        assert_eq!(
            change("Deployment/web", None).object_label(),
            "Deployment/web"
        );
        assert_eq!(
            change("Deployment/web", Some("")).object_label(),
            "Deployment/web"
        );
        assert_eq!(
            change("Deployment/web", Some("shop")).object_label(),
            "Deployment/shop/web"
        );
        assert_eq!(change("List", Some("shop")).object_label(), "List/shop");
    }
}
