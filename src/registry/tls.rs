//! TLS for registry connections: the system roots plus `--ca-file`, no
//! verification for the hosts of `--insecure-registry`, and plain HTTP only
//! for the hosts of `--http-registry` (the same words as the KCI flags of
//! `patch`). rustls with the ring provider, as kube uses.
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::image::Host;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Extra CA certificates (PEM files), trusted in addition to the system's.
    pub ca_files: Vec<PathBuf>,
    /// Hosts whose certificate is not verified (`--insecure-registry`).
    pub insecure: Vec<Host>,
    /// Hosts spoken to over plain HTTP (`--http-registry`).
    pub http: Vec<Host>,
    /// Do not load the system's roots (tests that must not trust anything
    /// but their own CA).
    pub no_system_roots: bool,
}

/// Parse a `HOSTS` flag value: `host[:port]` separated by commas or spaces.
/// The errors name the flag and the bad entry.
pub fn parse_hosts(flag: &str, value: &str) -> anyhow::Result<Vec<Host>> {
    let mut hosts = Vec::new();
    for part in value.split([',', ' ']).filter(|p| !p.is_empty()) {
        let host = Host::parse(part).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
        hosts.push(host);
    }
    if hosts.is_empty() {
        bail!("{flag}: give one or more HOST[:PORT], separated by commas");
    }
    Ok(hosts)
}

/// True when `host` is named in `list`: a listed host with a port matches
/// that port only; one without a port matches every port. Names compare
/// case-insensitively.
pub fn host_listed(list: &[Host], host: &Host) -> bool {
    list.iter().any(|h| {
        h.name().eq_ignore_ascii_case(host.name())
            && (h.port().is_none() || h.port() == host.port())
    })
}

impl TlsOptions {
    pub fn is_http(&self, host: &Host) -> bool {
        host_listed(&self.http, host)
    }

    pub fn is_insecure(&self, host: &Host) -> bool {
        host_listed(&self.insecure, host)
    }

    /// The verifying client configuration: system roots plus `ca_files`.
    pub fn verifying_config(&self) -> anyhow::Result<ClientConfig> {
        let mut roots = RootCertStore::empty();
        if !self.no_system_roots {
            // Unreadable system certificates are skipped, as Go's x509 does:
            // --ca-file still works on a machine without them.
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
        }
        for path in &self.ca_files {
            let bytes = std::fs::read(path)
                .with_context(|| format!("--ca-file {}: cannot read it", path.display()))?;
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(&bytes) {
                let cert = cert.map_err(|e| {
                    anyhow::anyhow!(
                        "--ca-file {}: not a PEM certificate file ({e}); give the CA certificate \
                         (-----BEGIN CERTIFICATE-----)",
                        path.display()
                    )
                })?;
                roots.add(cert).map_err(|e| {
                    anyhow::anyhow!("--ca-file {}: unusable certificate: {e}", path.display())
                })?;
                added += 1;
            }
            if added == 0 {
                bail!(
                    "--ca-file {}: no certificate in it; give the registry's CA certificate in PEM \
                     form (-----BEGIN CERTIFICATE-----)",
                    path.display()
                );
            }
        }
        Ok(ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS setup")?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }

    /// A configuration that accepts any certificate (`--insecure-registry`);
    /// the handshake signatures are still checked.
    pub fn insecure_config() -> anyhow::Result<ClientConfig> {
        let provider = provider();
        Ok(ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS setup")?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    #[test]
    fn hosts_without_port_match_every_port() {
        let list = parse_hosts("--http-registry", "Registry.Local, 10.0.0.5:5000").unwrap();
        assert!(host_listed(&list, &h("registry.local:5000")));
        assert!(host_listed(&list, &h("registry.local")));
        assert!(host_listed(&list, &h("10.0.0.5:5000")));
        assert!(!host_listed(&list, &h("10.0.0.5:5001")));
        assert!(!host_listed(&list, &h("10.0.0.5")));
    }

    #[test]
    fn bad_hosts_name_the_flag() {
        let e = parse_hosts("--insecure-registry", "https://x.io").unwrap_err();
        assert!(e.to_string().starts_with("--insecure-registry: "), "{e}");
        assert!(parse_hosts("--http-registry", " , ").is_err());
    }

    #[test]
    fn ca_file_errors_say_what_to_give() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "hello").unwrap();
        let opts = TlsOptions {
            ca_files: vec![p],
            no_system_roots: true,
            ..Default::default()
        };
        let e = opts.verifying_config().unwrap_err().to_string();
        assert!(e.contains("no certificate in it"), "{e}");
        let opts = TlsOptions {
            ca_files: vec![dir.path().join("absent.pem")],
            no_system_roots: true,
            ..Default::default()
        };
        let e = format!("{:#}", opts.verifying_config().unwrap_err());
        assert!(e.contains("cannot read it"), "{e}");
    }
}
