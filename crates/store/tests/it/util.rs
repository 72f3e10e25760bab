//! Helpers shared by the test modules.

use std::error::Error as _;
use std::io;
use std::path::Path;

use aorta_store::{Options, Store};

/// A store in a fresh temp dir; the dir lives as long as the returned guard.
pub fn fresh(options: Options) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_with(dir.path(), options).expect("open a new store");
    (store, dir)
}

/// The store error inside an API error, if it is one.
pub fn store_error(error: &aorta_api::Error) -> Option<&aorta_store::Error> {
    match error {
        aorta_api::Error::Storage { source } => source.downcast_ref::<aorta_store::Error>(),
        _ => None,
    }
}

/// The kind of the first `io::Error` in an error's source chain.
pub fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        next = e.source();
    }
    None
}

/// How many entries a folder holds.
pub fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

/// Every blob file under `root/blobs`.
pub fn blob_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for fan in std::fs::read_dir(root.join("blobs")).expect("blobs folder") {
        let fan = fan.expect("fan-out entry").path();
        for file in std::fs::read_dir(&fan).expect("fan-out folder") {
            out.push(file.expect("blob entry").path());
        }
    }
    out.sort();
    out
}

/// Keeps `io_kind` callable on API errors (their source chain holds the store's).
pub fn api_io_kind(error: &aorta_api::Error) -> Option<io::ErrorKind> {
    error.source().and_then(io_kind)
}
