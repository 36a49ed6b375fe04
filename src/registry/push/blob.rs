//! Blob bytes as they go to the registry: digest verified against the
//! source, uncompressed tar layers gzip-compressed (deterministically, so a
//! re-run finds the same digest).
use std::io::Write;

use anyhow::{Result, bail};
use bytes::Bytes;
use flate2::{Compression, GzBuilder};

use crate::registry::archive::{Blob, sha256};

/// A blob ready to upload.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub digest: String,
    pub size: u64,
    /// Gzip-compressed as uploaded.
    pub gzip: bool,
    pub data: Bytes,
}

/// Check `bytes` against what the source says they are, and compress an
/// uncompressed layer. `what` names the blob in errors.
pub fn prepare(blob: &Blob, bytes: Vec<u8>, what: &str) -> Result<Prepared> {
    if bytes.len() as u64 != blob.size {
        bail!(
            "{what}: read {} bytes where the archive says {}; the archive is damaged or changed during the push — download it again",
            bytes.len(),
            blob.size
        );
    }
    if blob.needs_compression() {
        let actual = sha256(&bytes);
        let expected = blob.diff_id.as_ref().or(blob.digest.as_ref());
        if let Some(expected) = expected
            && *expected != actual
        {
            bail!(
                "{what}: the layer's content is {actual}, not {expected} as the image config says; the archive is damaged — download it again"
            );
        }
        let gz = gzip(&bytes)?;
        return Ok(Prepared {
            digest: sha256(&gz),
            size: gz.len() as u64,
            gzip: true,
            data: Bytes::from(gz),
        });
    }
    let actual = sha256(&bytes);
    if let Some(expected) = &blob.digest
        && *expected != actual
    {
        bail!(
            "{what}: the content is {actual}, not {expected}; the archive is damaged — download it again"
        );
    }
    Ok(Prepared {
        digest: actual,
        size: bytes.len() as u64,
        gzip: blob.gzip,
        data: Bytes::from(bytes),
    })
}

/// Gzip with fixed header fields (no name, mtime 0) and level 1: the same
/// input always gives the same bytes.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut enc = GzBuilder::new().mtime(0).write(
        Vec::with_capacity(bytes.len() / 2 + 1024),
        Compression::new(1),
    );
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let a = gzip(&data).unwrap();
        assert_eq!(a, gzip(&data).unwrap());
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&a[..]), &mut out).unwrap();
        assert_eq!(out, data);
    }
}
