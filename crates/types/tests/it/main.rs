//! Integration tests of `aorta-types` against vectors made by the real JavaScript libraries.

mod ao_views;
mod signing;
mod vectors;

use std::path::PathBuf;

/// `../shared/vectors/ans104` beside the checkout, or `$AORTA_SHARED_DIR/vectors/ans104`.
pub fn vectors_dir() -> PathBuf {
    let shared = std::env::var_os("AORTA_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let dir = shared.join("vectors/ans104");
    assert!(
        dir.join("manifest.json").is_file(),
        "test vectors not found at {} (set AORTA_SHARED_DIR)",
        dir.display()
    );
    dir
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
