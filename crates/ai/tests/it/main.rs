//! aorta-ai integration tests: generated models in both formats, and SmolLM2-135M (fetched by
//! `scripts/fetch-model.sh` into the cache outside the repository).

mod generated;
mod smollm;

use std::path::PathBuf;
use std::sync::OnceLock;

/// The SmolLM2 GGUF and the python of the reference venv, fetched once per test run.
pub fn fetched() -> &'static (PathBuf, PathBuf) {
    static FETCHED: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FETCHED.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new("bash")
            .arg(root.join("scripts/fetch-model.sh"))
            .output()
            .expect("running scripts/fetch-model.sh");
        assert!(
            out.status.success(),
            "fetch-model.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let model = PathBuf::from(stdout.lines().last().expect("a path").trim());
        let python = model
            .parent()
            .and_then(|p| p.parent())
            .expect("cache/models/…")
            .join("venv/bin/python");
        (model, python)
    })
}
