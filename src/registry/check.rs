//! `images --check`: ask an image's registry whether the tag exists, which
//! platforms it provides, and whether the wanted ones are among them.
use futures::StreamExt;

use super::client::{Client, MANIFEST_ACCEPT};
use super::error::Status;
use super::manifest::{Manifest, config_platform};
use crate::image::{ImageRef, Platform};

/// Largest image config blob read for its platform.
const MAX_CONFIG_BYTES: usize = 1 << 20;

/// A platform the cluster needs, and the nodes that need it (empty when it
/// came from `--platform` or the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub platform: Platform,
    pub nodes: Vec<String>,
}

/// What the registry says about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCheck {
    pub status: Status,
    /// The platforms the tag provides.
    pub platforms: Vec<Platform>,
    /// Wanted platforms it lacks.
    pub missing_platforms: Vec<Platform>,
    /// The digest of the manifest (index) the tag points at.
    pub digest: Option<String>,
    /// What happened and what to do; empty for `ok`.
    pub message: String,
}

impl ImageCheck {
    fn failed(status: Status, message: String) -> Self {
        ImageCheck {
            status,
            platforms: Vec::new(),
            missing_platforms: Vec::new(),
            digest: None,
            message,
        }
    }
}

/// Check one image against the wanted platforms.
pub async fn check_image(client: &Client, image: &ImageRef, wanted: &[Wanted]) -> ImageCheck {
    let registry = image.registry();
    let repository = image.repository();
    let fetched = match client.manifest(image, MANIFEST_ACCEPT).await {
        Ok(m) => m,
        Err(e) => return ImageCheck::failed(e.status, e.message),
    };
    let manifest = match Manifest::parse(&fetched.media_type, &fetched.body) {
        Ok(m) => m,
        Err(why) => return ImageCheck::failed(Status::Error, format!("{image}: {why}")),
    };
    let platforms = match &manifest {
        Manifest::Index { .. } => manifest.index_platforms(),
        Manifest::Image { config, .. } => {
            match client
                .blob(&registry, &repository, &config.digest, MAX_CONFIG_BYTES)
                .await
            {
                Ok(body) => config_platform(&body).into_iter().collect(),
                Err(e) => {
                    return ImageCheck {
                        digest: Some(fetched.digest),
                        ..ImageCheck::failed(
                            e.status,
                            format!("{image}: cannot read the image config: {}", e.message),
                        )
                    };
                }
            }
        }
    };
    let missing: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| !platforms.iter().any(|p| p.serves(&w.platform)))
        .collect();
    let (status, message) = if missing.is_empty() {
        (Status::Ok, String::new())
    } else {
        let provided = if platforms.is_empty() {
            "no platform".to_string()
        } else {
            platforms
                .iter()
                .map(Platform::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let parts: Vec<String> = missing
            .iter()
            .map(|w| match w.nodes.len() {
                0 => w.platform.to_string(),
                _ => format!("{} (nodes {})", w.platform, w.nodes.join(", ")),
            })
            .collect();
        let kind = match manifest {
            Manifest::Index { .. } => "its index lists",
            Manifest::Image { .. } => "it is a single-platform image for",
        };
        (
            Status::PlatformMissing,
            format!(
                "{image} has no image for {}: {kind} {provided}; those nodes would fail the pull \
                 (\"no match for platform in manifest\") or crash with \"exec format error\". Push \
                 the multi-arch image (all platforms: skopeo copy --all, docker buildx --platform \
                 ..., `kubectl tingyun images push`) or keep the pods off those nodes",
                parts.join("; ")
            ),
        )
    };
    ImageCheck {
        status,
        missing_platforms: missing.iter().map(|w| w.platform.clone()).collect(),
        platforms,
        digest: Some(fetched.digest),
        message,
    }
}

/// Check many images, `concurrency` at a time; results in input order.
/// `progress(done, total)` is called after each.
pub async fn check_all(
    client: &Client,
    images: &[ImageRef],
    wanted: &[Wanted],
    concurrency: usize,
    mut progress: impl FnMut(usize, usize),
) -> Vec<ImageCheck> {
    let total = images.len();
    let mut results: Vec<Option<ImageCheck>> = vec![None; total];
    let mut stream = futures::stream::iter(images.iter().enumerate())
        .map(|(i, image)| async move { (i, check_image(client, image, wanted).await) })
        .buffer_unordered(concurrency.max(1));
    let mut done = 0;
    while let Some((i, r)) = stream.next().await {
        results[i] = Some(r);
        done += 1;
        progress(done, total);
    }
    results.into_iter().flatten().collect()
}
