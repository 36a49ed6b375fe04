//! `kubectl tingyun secret` flags.
use clap::{Args, ValueEnum};

use super::DryRunArg;
use super::connect::ConnectArgs;
use crate::cluster::secret::{OutputFormat, SecretOptions};
use crate::names::DEFAULT_SECRET_NAME;

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# Agent namespace plus two business namespaces; password from standard input\n  \
printf '%s' \"$TOKEN\" | kubectl tingyun secret --server harbor.example.com \\\n      \
--username 'robot$tingyun+pull' --password-stdin -n tingyun -n shop -n billing\n\n  \
# Password from the environment, preview only\n  \
TINGYUN_REGISTRY_PASSWORD=... kubectl tingyun secret --server swr.cn-north-4.myhuaweicloud.com \\\n      \
--username cn-north-4@AK -n tingyun --dry-run -o yaml")]
pub struct SecretArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    #[command(flatten)]
    pub profile: super::profile_args::ProfileArgs,

    /// Registry server, HOST[:PORT] (no scheme, no path). Required, here or in the profile.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub server: Option<String>,

    /// Registry user name (any characters; no shell escaping needed when quoted).
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,

    /// Read the password from standard input (otherwise from TINGYUN_REGISTRY_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,

    /// Namespace to create the secret in (repeatable). Default: the context's namespace.
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,

    /// Also every namespace whose pods the Tingyun injection webhook selects.
    #[arg(long)]
    pub injected_namespaces: bool,

    /// Secret name [default: tingyun-image-secret, or the profile's secret.name / pull-secret].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// `--dry-run` (client) prints the Secret and contacts no cluster; `server` asks the API
    /// server (only dryRun requests; exit 1 when something would change).
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client")]
    pub dry_run: Option<DryRunArg>,

    /// Output format for --dry-run: yaml or json.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormatArg>,

    /// Field manager for server-side apply.
    #[arg(long, value_name = "NAME", default_value = "kubectl-tingyun")]
    pub field_manager: String,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormatArg {
    Yaml,
    Json,
}

impl SecretArgs {
    pub fn options(&self) -> SecretOptions {
        SecretOptions {
            connect: self.connect.options(),
            server: self.server.clone().unwrap_or_default(),
            username: self.username.clone().unwrap_or_default(),
            password_stdin: self.password_stdin,
            namespaces: self.namespaces.clone(),
            injected_namespaces: self.injected_namespaces,
            name: self
                .name
                .clone()
                .unwrap_or_else(|| DEFAULT_SECRET_NAME.to_string()),
            dry_run: super::dry_run(self.dry_run),
            output: self.output.map(|o| match o {
                OutputFormatArg::Yaml => OutputFormat::Yaml,
                OutputFormatArg::Json => OutputFormat::Json,
            }),
            field_manager: self.field_manager.clone(),
        }
    }
}
