//! `kubectl tingyun images FILE [-o table|json] [--check]`: list every image
//! the manifest makes nodes pull ([`crate::patch::inventory`]) and, with
//! `--check`, ask each registry ([`crate::registry`]) whether the image is
//! there for every platform the cluster's nodes need.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};

use crate::cluster::connect::ConnectOptions;
use crate::cluster::dockerconfig::{DATA_KEY, PASSWORD_ENV, read_password};
use crate::exit::Status as ExitStatus;
use crate::image::platform::default_platform;
use crate::image::{Host, ImageRef, Platform};
use crate::output::{Output, fit};
use crate::patch::inventory::{ImageUse, Inventory, inventory};
use crate::registry::check::{ImageCheck, Wanted, check_all};
use crate::registry::credentials::UserConfigPaths;
use crate::registry::{Client, CredentialStore, Credentials, RegistryOptions, Status, TlsOptions};
use crate::source::Source;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// Everything `images` takes (the command line fills it in).
#[derive(Debug, Clone, Default)]
pub struct ImagesOptions {
    pub file: String,
    pub output: Format,
    pub check: bool,
    /// `--platform`; `None`: the cluster's nodes, else linux/amd64.
    pub platforms: Option<Vec<Platform>>,
    pub from_cluster: bool,
    pub connect: ConnectOptions,
    pub username: Option<String>,
    pub password_stdin: bool,
    pub ca_files: Vec<PathBuf>,
    pub insecure: Vec<Host>,
    pub http: Vec<Host>,
    /// Checks in flight at once.
    pub concurrency: usize,
    /// Per registry request.
    pub timeout: Duration,
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub usage: ImageUse,
    pub check: Option<ImageCheck>,
}

/// Run `images`: the report on `output.out`, warnings and progress on
/// `output.err`; the registry checks on the one runtime ([`crate::runtime`]).
pub fn run(options: &ImagesOptions, output: &mut Output) -> anyhow::Result<ExitStatus> {
    if options.password_stdin && options.file == "-" {
        bail!(
            "--password-stdin and FILE '-' both want standard input; give the manifest as a file \
             or the password in {PASSWORD_ENV}"
        );
    }
    if options.password_stdin && options.username.is_none() {
        bail!("--password-stdin needs --username");
    }
    let source = Source::read(&options.file)?;
    let inv = inventory(&source)?;
    for w in &inv.warnings {
        writeln!(output.err, "warning: {w}")?;
    }
    if !options.check {
        let rows: Vec<Row> = inv
            .images
            .iter()
            .map(|u| Row {
                usage: u.clone(),
                check: None,
            })
            .collect();
        print_rows(&rows, options.output, false, output.out)?;
        return Ok(ExitStatus::Done);
    }
    crate::runtime::block_on(check(options, &inv, output))?
}

async fn check(
    options: &ImagesOptions,
    inv: &Inventory,
    output: &mut Output<'_>,
) -> anyhow::Result<ExitStatus> {
    let mut credentials = CredentialStore::new();
    if let Some(user) = &options.username {
        let stdin = std::io::stdin();
        let password = read_password(
            options.password_stdin,
            stdin.lock(),
            std::env::var_os(PASSWORD_ENV),
        )?;
        credentials.push_fixed(Credentials::new(user, password), "--username");
    }
    // The cluster: for node platforms (unless --platform) and pull secrets.
    let need_cluster = options.from_cluster || options.platforms.is_none();
    let cluster = if need_cluster {
        match connect_quickly(&options.connect).await {
            Ok(c) => Some(c),
            Err(e) if options.from_cluster => {
                return Err(e.context("--from-cluster: cannot reach the cluster"));
            }
            Err(e) => {
                writeln!(
                    output.err,
                    "note: no cluster reachable ({e:#}); checking {} (use --platform to choose)",
                    default_platform()
                )?;
                None
            }
        }
    } else {
        None
    };
    if options.from_cluster
        && let Some(conn) = &cluster
    {
        for note in cluster_credentials(conn, inv, &mut credentials).await? {
            writeln!(output.err, "{note}")?;
        }
    }
    credentials.push_user_config(&UserConfigPaths::from_env());
    for w in &credentials.warnings {
        writeln!(output.err, "warning: {w}")?;
    }
    let wanted = match (&options.platforms, &cluster) {
        (Some(ps), _) => ps
            .iter()
            .map(|p| Wanted {
                platform: p.clone(),
                nodes: Vec::new(),
            })
            .collect(),
        (None, Some(conn)) => match node_platforms(&conn.client).await {
            Ok(w) if !w.is_empty() => w,
            Ok(_) => {
                writeln!(
                    output.err,
                    "note: the cluster has no nodes; checking {}",
                    default_platform()
                )?;
                default_wanted()
            }
            Err(e) => {
                writeln!(
                    output.err,
                    "note: cannot list the cluster's nodes ({e:#}); checking {} (use --platform)",
                    default_platform()
                )?;
                default_wanted()
            }
        },
        (None, None) => default_wanted(),
    };
    let client = Client::new(RegistryOptions {
        tls: TlsOptions {
            ca_files: options.ca_files.clone(),
            insecure: options.insecure.clone(),
            http: options.http.clone(),
            no_system_roots: false,
        },
        credentials,
        timeout: options.timeout,
        connect_timeout: options.timeout.min(Duration::from_secs(10)),
    })?;

    // Parse; check each distinct image once.
    let distinct = inv.distinct();
    let mut parsed: Vec<ImageRef> = Vec::new();
    let mut results: BTreeMap<String, ImageCheck> = BTreeMap::new();
    for image in &distinct {
        match ImageRef::parse(image) {
            Ok(r) => parsed.push(r),
            Err(e) => {
                results.insert(
                    image.clone(),
                    ImageCheck {
                        status: Status::Error,
                        platforms: Vec::new(),
                        missing_platforms: Vec::new(),
                        digest: None,
                        message: format!("not an image reference: {e}"),
                    },
                );
            }
        }
    }
    let (tty, width, err) = (output.tty, output.width, &mut *output.err);
    let checks = check_all(
        &client,
        &parsed,
        &wanted,
        options.concurrency.max(1),
        |done, total| {
            if tty {
                let line = fit(&format!("checking images: {done}/{total}"), width);
                let _ = write!(err, "\r{line}");
                if done == total {
                    let _ = write!(err, "\r\x1b[K");
                }
                let _ = err.flush();
            }
        },
    )
    .await;
    for (r, c) in parsed.iter().zip(checks) {
        results.insert(r.to_string(), c);
    }
    let rows: Vec<Row> = inv
        .images
        .iter()
        .map(|u| Row {
            usage: u.clone(),
            check: results.get(&u.image).cloned().or_else(|| {
                ImageRef::parse(&u.image)
                    .ok()
                    .and_then(|r| results.get(&r.to_string()).cloned())
            }),
        })
        .collect();
    print_rows(&rows, options.output, true, output.out)?;
    let all_ok = rows
        .iter()
        .all(|r| r.check.as_ref().is_some_and(|c| c.status == Status::Ok));
    Ok(if all_ok {
        ExitStatus::Done
    } else {
        ExitStatus::Failed
    })
}

fn default_wanted() -> Vec<Wanted> {
    vec![Wanted {
        platform: default_platform(),
        nodes: Vec::new(),
    }]
}

/// Connect with a short bound: a missing or dead cluster must not hold up
/// a check that can do without it.
async fn connect_quickly(
    connect: &ConnectOptions,
) -> anyhow::Result<crate::cluster::connect::Connection> {
    let mut c = connect.clone();
    if c.request_timeout.is_zero() || c.request_timeout > Duration::from_secs(10) {
        c.request_timeout = Duration::from_secs(10);
    }
    c.connect().await
}

/// The platforms of the cluster's nodes (`kubernetes.io/os`/`arch` labels,
/// else the node info), each with the nodes that need it.
pub async fn node_platforms(client: &kube::Client) -> anyhow::Result<Vec<Wanted>> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes.list(&ListParams::default()).await?;
    let mut by: BTreeMap<Platform, Vec<String>> = BTreeMap::new();
    for n in list.items {
        let name = n.metadata.name.clone().unwrap_or_default();
        let platform = node_platform(&n);
        by.entry(platform).or_default().push(name);
    }
    Ok(by
        .into_iter()
        .map(|(platform, nodes)| Wanted { platform, nodes })
        .collect())
}

/// A node's OS/architecture.
pub fn node_platform(n: &Node) -> Platform {
    let labels = n.metadata.labels.clone().unwrap_or_default();
    let info = n.status.as_ref().and_then(|s| s.node_info.as_ref());
    let os = labels
        .get("kubernetes.io/os")
        .cloned()
        .or_else(|| info.map(|i| i.operating_system.clone()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "linux".into());
    let arch = labels
        .get("kubernetes.io/arch")
        .cloned()
        .or_else(|| info.map(|i| i.architecture.clone()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "amd64".into());
    Platform::new(&os, &arch, None)
}

/// `--from-cluster`: the `.dockerconfigjson` of every pull secret the
/// manifest's pods would use, read from the namespaces they run in.
/// Returns notes (missing secrets: the kubelet will not find them either).
async fn cluster_credentials(
    conn: &crate::cluster::connect::Connection,
    inv: &Inventory,
    store: &mut CredentialStore,
) -> anyhow::Result<Vec<String>> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for u in &inv.images {
        let ns = u
            .namespace
            .clone()
            .unwrap_or_else(|| conn.default_namespace.clone());
        for s in &u.pull_secrets {
            let key = (ns.clone(), s.clone());
            if !wanted.contains(&key) {
                wanted.push(key);
            }
        }
    }
    let mut notes = Vec::new();
    if wanted.is_empty() {
        notes.push(
            "note: --from-cluster: the manifest's pods name no imagePullSecrets (in the pod spec, \
             its ServiceAccount or mutate.yaml); the kubelet will pull anonymously"
                .to_string(),
        );
    }
    for (ns, name) in wanted {
        let api: Api<Secret> = Api::namespaced(conn.client.clone(), &ns);
        match api.get_opt(&name).await {
            Ok(Some(secret)) => {
                let origin = format!("secret {ns}/{name}");
                let data = secret
                    .data
                    .as_ref()
                    .and_then(|d| d.get(DATA_KEY).or_else(|| d.get(".dockercfg")));
                match data {
                    Some(bytes) => {
                        if let Err(e) = store.push_docker_config(&bytes.0, &origin) {
                            notes.push(format!("warning: {e}"));
                        }
                    }
                    None => notes.push(format!(
                        "warning: {origin} has no {DATA_KEY}; it is not a docker-registry secret \
                         (re-create it with `kubectl tingyun secret`)"
                    )),
                }
            }
            Ok(None) => notes.push(format!(
                "warning: pull secret {ns}/{name} does not exist: the kubelet cannot use it either; \
                 create it with `kubectl tingyun secret --server HOST --username USER --password-stdin -n {ns} --name {name}`"
            )),
            Err(e) => notes.push(format!("warning: cannot read secret {ns}/{name}: {e}")),
        }
    }
    Ok(notes)
}

fn object_text(u: &ImageUse) -> String {
    match &u.within {
        Some(w) => format!("{} ({w})", u.object),
        None => u.object.clone(),
    }
}

fn platforms_text(ps: &[Platform]) -> String {
    ps.iter()
        .map(Platform::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The JSON form of a row (the documented fields).
pub fn row_json(r: &Row) -> Value {
    let mut v = json!({
        "image": r.usage.image,
        "object": r.usage.object,
        "container": r.usage.container,
        "line": r.usage.line,
    });
    if let Some(w) = &r.usage.within {
        v["in"] = json!(w);
    }
    if let Some(c) = &r.check {
        v["status"] = json!(c.status.as_str());
        v["platforms"] = json!(
            c.platforms
                .iter()
                .map(Platform::to_string)
                .collect::<Vec<_>>()
        );
        v["missingPlatforms"] = json!(
            c.missing_platforms
                .iter()
                .map(Platform::to_string)
                .collect::<Vec<_>>()
        );
        v["digest"] = json!(c.digest);
        v["message"] = json!(c.message);
    }
    v
}

fn print_rows(
    rows: &[Row],
    format: Format,
    checked: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            let arr: Vec<Value> = rows.iter().map(row_json).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&arr)?)?;
        }
        Format::Table => {
            let mut table: Vec<Vec<String>> = Vec::new();
            let mut head = vec!["IMAGE", "OBJECT", "CONTAINER", "LINE"];
            if checked {
                head.extend(["STATUS", "PLATFORMS"]);
            }
            table.push(head.into_iter().map(str::to_string).collect());
            for r in rows {
                let mut line = vec![
                    r.usage.image.clone(),
                    object_text(&r.usage),
                    r.usage.container.clone(),
                    r.usage.line.to_string(),
                ];
                if let Some(c) = &r.check {
                    line.push(c.status.as_str().to_string());
                    line.push(if c.platforms.is_empty() {
                        "-".into()
                    } else {
                        platforms_text(&c.platforms)
                    });
                }
                table.push(line);
            }
            write_table(out, &table)?;
            if checked {
                let mut said: Vec<&str> = Vec::new();
                for r in rows {
                    if let Some(c) = &r.check
                        && c.status != Status::Ok
                        && !said.contains(&r.usage.image.as_str())
                    {
                        said.push(&r.usage.image);
                        writeln!(out, "\n{} ({}): {}", r.usage.image, c.status, c.message)?;
                    }
                }
            }
            if rows.is_empty() {
                writeln!(out, "(no container images in the manifest)")?;
            }
        }
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, table: &[Vec<String>]) -> std::io::Result<()> {
    let cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            table
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in table {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            } else {
                line.push_str(cell);
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
