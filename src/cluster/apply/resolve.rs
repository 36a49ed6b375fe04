//! Kinds resolved by discovery for `apply`.
use std::collections::HashMap;

use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource};

use super::super::errors::ApiError;
use super::super::objects::Manifest;

/// Resolves kinds by discovery, one request per group/version.
pub(super) struct Resolver {
    pub(super) client: kube::Client,
    pub(super) cache: HashMap<(String, String), (ApiResource, ApiCapabilities)>,
    /// Discovery answers per apiVersion.
    pub(super) groups: HashMap<String, Vec<(ApiResource, ApiCapabilities)>>,
    /// (group, kind) defined by CRDs in the file: retry discovery while they get established.
    pub(super) from_crds: Vec<(String, String)>,
}

impl Resolver {
    /// `retry`: wait for kinds of CRDs from the file to be served.
    pub(super) async fn resolve(
        &mut self,
        m: &Manifest,
        retry: bool,
    ) -> Result<(ApiResource, ApiCapabilities), kube::Error> {
        let key = (m.api_version.clone(), m.kind.clone());
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let gv = GroupVersion::gv(m.group(), m.version());
        let mut tries = 0;
        loop {
            let found = match self.groups.get(&m.api_version) {
                Some(resources) => Ok(resources.clone()),
                None => kube::discovery::pinned_group(&self.client, &gv)
                    .await
                    .map(|g| g.versioned_resources(m.version())),
            }
            .and_then(|resources| {
                self.groups.insert(m.api_version.clone(), resources.clone());
                resources
                    .into_iter()
                    .find(|(ar, _)| ar.kind == m.kind && !ar.plural.contains('/'))
                    .ok_or_else(|| {
                        kube::Error::Discovery(kube::error::DiscoveryError::MissingKind(
                            m.kind.clone(),
                        ))
                    })
            });
            match found {
                Ok(found) => {
                    self.cache.insert(key, found.clone());
                    return Ok(found);
                }
                Err(e)
                    if retry
                        && tries < 20
                        && self
                            .from_crds
                            .contains(&(m.group().to_string(), m.kind.clone()))
                        && !is_transport(&e) =>
                {
                    // A CRD from this file may take a moment to be served: ask again.
                    tries += 1;
                    self.groups.remove(&m.api_version);
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// No answer from the API server (unreachable, timed out).
pub(super) fn is_transport(e: &kube::Error) -> bool {
    matches!(
        ApiError::classify(e),
        ApiError::Unreachable { .. } | ApiError::Timeout { .. }
    )
}

/// `deployments.apps`, `secrets`.
pub fn resource_name(ar: &ApiResource) -> String {
    if ar.group.is_empty() {
        ar.plural.clone()
    } else {
        format!("{}.{}", ar.plural, ar.group)
    }
}
