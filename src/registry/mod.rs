//! A small client for the OCI distribution API (the registry half of a pull
//! or push), on reqwest with rustls; image archives ([`archive`]) and
//! `images push` ([`push`]).
//!
//! ```text
//! RegistryOptions (TLS: system roots + --ca-file, --insecure-registry,
//!                  --http-registry; credentials; timeouts)
//!   -> Client::new
//!   -> client.manifest(&ImageRef, MANIFEST_ACCEPT)   GET /v2/NAME/manifests/REF
//!      client.head_blob / blob                        HEAD/GET /v2/NAME/blobs/DIGEST
//!      client.send(Request)                           anything else (uploads)
//! ```
//!
//! Every request goes through [`Client::send`], which does the registry
//! authentication dance the way Docker does: send, and on `401` read the
//! `Www-Authenticate` challenge; `Basic` -> retry with the credentials;
//! `Bearer realm=..,service=..,scope=..` -> fetch a token from the realm (with
//! the credentials as Basic, or anonymously), cache it per (host, scope) until
//! it expires, retry with it. Failures come back as [`RegistryError`], whose
//! [`Status`] is what `images --check` reports.
pub mod archive;
pub mod auth;
pub mod check;
pub mod client;
pub mod credentials;
pub mod error;
pub mod manifest;
pub mod push;
pub mod tls;

pub use client::{Client, RegistryOptions, Request};
pub use credentials::{CredentialStore, Credentials};
pub use error::{RegistryError, Status};
pub use tls::TlsOptions;
