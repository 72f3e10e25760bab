//! Integration tests of `aorta-types` against vectors made by the real JavaScript libraries.

mod ao_views;
mod arweave;
mod signing;
mod vectors;

use std::path::PathBuf;

/// `testdata/ans104`: vectors made by arbundles and arweave-js (see its PROVENANCE.md).
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ans104")
}

/// Reads a vector file.
pub fn vector(name: &str) -> Vec<u8> {
    let path = vectors_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The parsed manifest.
pub fn manifest() -> serde_json::Value {
    serde_json::from_slice(&vector("manifest.json")).expect("manifest.json is JSON")
}
