//! One loaded model per weights file, shared read-only by every process that uses it, and a
//! local copy of weights that come from elsewhere (the weave) so that they can be mapped.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::Error;
use crate::model::Model;

fn loaded() -> &'static Mutex<HashMap<String, Weak<Model>>> {
    static LOADED: OnceLock<Mutex<HashMap<String, Weak<Model>>>> = OnceLock::new();
    LOADED.get_or_init(Mutex::default)
}

/// The model known as `key` (a data id, a path): the one already loaded if any process still
/// holds it, else what `load` gives (then shared).
///
/// # Errors
/// What `load` returns.
pub fn shared(key: &str, load: impl FnOnce() -> Result<Model, Error>) -> Result<Arc<Model>, Error> {
    let mut map = loaded()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(model) = map.get(key).and_then(Weak::upgrade) {
        return Ok(model);
    }
    map.retain(|_, m| m.strong_count() > 0);
    let model = Arc::new(load()?);
    map.insert(key.to_owned(), Arc::downgrade(&model));
    Ok(model)
}

/// A local file holding the `size` bytes that `read_at(offset, len)` serves, named `name` in
/// `dir`: reused when already there with the right size, else written in 8 MiB pieces to a
/// temporary file and renamed (so a crash never leaves a short file under the name).
///
/// # Errors
/// Reading the source or writing the file failed.
pub fn local_copy(
    dir: &Path,
    name: &str,
    size: u64,
    mut read_at: impl FnMut(u64, u64) -> Result<Vec<u8>, String>,
) -> Result<PathBuf, Error> {
    let path = dir.join(name);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut offset = 0;
    while offset < size {
        let piece = read_at(offset, (size - offset).min(8 << 20)).map_err(Error::Format)?;
        if piece.is_empty() {
            return Err(Error::Format(format!(
                "{name} ends at byte {offset} of {size}"
            )));
        }
        tmp.write_all(&piece)?;
        offset += piece.len() as u64;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&path).map_err(|e| Error::Io(e.error))?;
    Ok(path)
}
