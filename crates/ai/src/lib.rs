//! `aorta-ai`: deterministic llama-architecture inference (DESIGN.md §4, `llama` for processes).
//!
//! * Weights: GGUF (F32, F16, Q4_0, Q4_1, Q8_0) and llama2.c checkpoints, mapped from disk and
//!   read in place; one loaded model is shared by every process that uses it ([`registry`]).
//! * Bit-for-bit determinism on every x86-64 CPU and thread count: fixed summation orders,
//!   integer dot products for quantised weights, SIMD and scalar paths that give the same bits,
//!   and our own `libm` for `exp`, `sin`, `cos`, `pow` ([`kernels`]).
//! * Tokenizers from the model: SentencePiece-style and GPT-2-style BPE ([`tokenizer`]), and
//!   chat templates ([`chat`]).

pub mod chat;
pub mod dtype;
pub mod gguf;
pub mod kernels;
pub mod model;
pub mod registry;
pub mod sampler;
pub mod testing;
pub mod tokenizer;

pub use kernels::Kernel;
pub use model::{Config, Exec, KvCache, KvLayout, Model, Scratch, Storage, VecCache};
pub use sampler::Sampling;
pub use tokenizer::Tokenizer;

/// What can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not a well-formed model.
    #[error("{0}")]
    Format(String),
    /// A well-formed model this engine does not run.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Reading the file failed.
    #[error("reading the model: {0}")]
    Io(#[from] std::io::Error),
    /// The context holds as many positions as it may.
    #[error("the context is full ({0} positions)")]
    ContextFull(usize),
}
