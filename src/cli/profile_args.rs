//! `--config FILE` (every command that takes cluster or edit flags) and
//! `patch --save-config`: the saved profile ([`crate::profile`]) fills
//! what the command line leaves unset.
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cluster::apply::ApplyOptions;
use crate::cluster::secret::SecretOptions;
use crate::patch::PatchOptions;
use crate::profile::{self, Profile};

#[derive(Args, Debug, Clone, Default)]
pub struct ProfileArgs {
    /// Saved flag values (YAML; keys are the long flag names; flags override them).
    /// Default: tingyun.yaml beside the manifest, then ~/.config/kubectl-tingyun/config.yaml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn manifest(file: &str) -> Option<&Path> {
    (file != "-").then_some(Path::new(file))
}

fn load(args: &ProfileArgs, file: Option<&Path>) -> anyhow::Result<Option<profile::Loaded>> {
    let loaded = profile::load(args.config.as_deref(), file)?;
    if let Some(l) = &loaded {
        eprintln!(
            "using profile {} (flags on the command line override it)",
            l.path.display()
        );
    }
    Ok(loaded)
}

/// Fill `patch`'s options from the profile. Returns where `--save-config`
/// writes and the profile it started from.
pub fn patch(
    args: &ProfileArgs,
    save: bool,
    o: &mut PatchOptions,
) -> anyhow::Result<Option<(PathBuf, Profile)>> {
    let file_name = o.file.clone();
    let file = manifest(&file_name);
    let loaded = load(args, file)?;
    let base = loaded
        .as_ref()
        .map(|l| l.profile.clone())
        .unwrap_or_default();
    base.fill_patch(o);
    if !save {
        return Ok(None);
    }
    let to = match (&args.config, &loaded) {
        (Some(p), _) => p.clone(),
        // the profile that was read, when it is the one beside the manifest
        _ => profile::default_paths(file).remove(0),
    };
    Ok(Some((to, base)))
}

/// Write the effective options of a `patch` run.
pub fn save(to: &Path, o: &PatchOptions, base: &Profile) -> anyhow::Result<()> {
    let text = Profile::from_patch(o, base).render();
    crate::write::atomic(to, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write the profile {}: {e:#}", to.display()))?;
    eprintln!(
        "saved these flags to {} (an upgrade: kubectl tingyun patch NEW-DOWNLOAD.yaml --apply{})",
        to.display(),
        if to
            .file_name()
            .is_some_and(|n| n == profile::BESIDE_MANIFEST)
        {
            String::new()
        } else {
            format!(" --config {}", to.display())
        }
    );
    Ok(())
}

pub fn apply(args: &ProfileArgs, file: &str, o: &mut ApplyOptions) -> anyhow::Result<()> {
    if let Some(l) = load(args, manifest(file))? {
        l.profile.fill_apply(o);
    }
    Ok(())
}

/// `given`: whether `--server`, `--username` and `--name` were on the command line.
pub fn secret(args: &ProfileArgs, given: [bool; 3], o: &mut SecretOptions) -> anyhow::Result<()> {
    if let Some(l) = load(args, None)? {
        l.profile.fill_secret(o, given);
    }
    for (value, was_given, flag, key) in [
        (&o.server, given[0], "--server", "secret.server"),
        (&o.username, given[1], "--username", "secret.username"),
    ] {
        if value.is_empty() && !was_given {
            anyhow::bail!(
                "{flag} is required: give {flag}=VALUE, or set {key} in the profile (--config FILE, \
                 or tingyun.yaml in this directory)"
            );
        }
    }
    Ok(())
}
