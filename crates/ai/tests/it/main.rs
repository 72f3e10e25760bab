//! aorta-ai integration tests: generated models in both formats, and SmolLM2-135M (fetched by
//! `scripts/fetch-model.sh` into the cache outside the repository).

mod generated;
mod smollm;

/// The SmolLM2 GGUF and the python of the reference venv.
pub fn fetched() -> &'static (std::path::PathBuf, std::path::PathBuf) {
    aorta_ai::testing::smollm()
}
