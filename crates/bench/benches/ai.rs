//! Inference speed against the memory-bandwidth bound, measured in the same run.
//!
//! `cargo bench -p aorta-bench --bench ai` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! Decoding one token reads every weight once, so a token cannot take less than
//! `bytes of weights per token ÷ read bandwidth`. The bandwidth is measured here (one and two
//! threads streaming a buffer far larger than the caches); each model's decode rate is
//! reported against the bound of as many threads, every figure the best of three interleaved
//! rounds. Models: SmolLM2-135M-Instruct Q4_1 (fetched by `scripts/fetch-model.sh`) and a
//! generated F32 llama2.c checkpoint of stories15M's shape.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use aorta_ai::testing::{Shape, llama2c, llama2c_tokenizer};
use aorta_ai::{Exec, Kernel, Model, Scratch, VecCache, sampler};
use aorta_bench::Mode;

/// Bytes per second that `threads` threads read from memory together: each streams its share
/// of `buf` (far larger than the caches in a full run) with the engine's own prefetching loop,
/// so the figure holds in smoke mode too, where this bench is built without optimisation;
/// best of three.
fn read_bandwidth(buf: &[u8], threads: usize) -> f64 {
    let len = buf.len();
    let share = len.div_ceil(threads);
    let mut best = 0f64;
    for _ in 0..3 {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for part in buf.chunks(share) {
                scope.spawn(move || black_box(aorta_ai::kernels::stream(Kernel::best(), part)));
            }
        });
        best = best.max(len as f64 / start.elapsed().as_secs_f64());
    }
    best
}

/// Decode tokens per second after a short prompt.
fn decode_rate(model: &Model, exec: &Exec, tokens: usize) -> f64 {
    let mut kv = VecCache::new(&model.config, model.config.context);
    let mut s = Scratch::default();
    for t in model
        .tokenizer
        .encode("Once upon a time", model.tokenizer.add_bos, false)
    {
        model.forward(exec, t, &mut kv, &mut s).expect("forward");
    }
    let start = Instant::now();
    for _ in 0..tokens {
        let next = sampler::sample(&s.logits, Default::default(), 0.0);
        model.forward(exec, next, &mut kv, &mut s).expect("forward");
    }
    tokens as f64 / start.elapsed().as_secs_f64()
}

/// One row of the table: a model decoded by `threads` threads with `kernel`.
struct Case<'a> {
    name: &'a str,
    model: &'a Model,
    tokens: usize,
    threads: usize,
    kernel: Kernel,
    best: f64,
}

fn main() {
    let mode = Mode::from_env();
    mode.banner("Inference bench");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let tokens = if mode.smoke { 2 } else { 48 };

    let smol = Model::open(&aorta_ai::testing::smollm().0, None).expect("SmolLM2");
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("stories15m.bin");
    std::fs::write(&bin, llama2c(Shape::stories15m(), true, 15)).expect("write");
    std::fs::write(dir.path().join("tokenizer.bin"), llama2c_tokenizer(32000)).expect("write");
    let stories = Model::open(Path::new(&bin), None).expect("stories15M");

    let models = [
        ("SmolLM2-135M Q4_1", &smol, tokens),
        ("stories15M-shaped F32 (llama2.c)", &stories, tokens * 4),
    ];
    let mut cases = Vec::new();
    for (name, model, tokens) in models {
        let mut configs: Vec<_> = Kernel::available().into_iter().map(|k| (1, k)).collect();
        if threads > 1 {
            configs.push((threads, Kernel::best()));
        }
        for (threads, kernel) in configs {
            cases.push(Case {
                name,
                model,
                tokens,
                threads,
                kernel,
                best: 0.0,
            });
        }
    }
    // This machine's speed swings from minute to minute: every figure is the best of rounds
    // that interleave the bandwidth reads with every configuration.
    let len: usize = if mode.smoke { 16 << 20 } else { 512 << 20 };
    let buf: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut bandwidth = vec![0f64; threads];
    for _ in 0..if mode.smoke { 1 } else { 3 } {
        for (t, best) in bandwidth.iter_mut().enumerate() {
            *best = best.max(read_bandwidth(&buf, t + 1));
        }
        for case in &mut cases {
            let exec = Exec::new(case.threads, case.kernel).expect("threads");
            case.best = case.best.max(decode_rate(case.model, &exec, case.tokens));
        }
    }
    for (t, b) in bandwidth.iter().enumerate() {
        println!("read bandwidth, {} thread(s): {:.2} GB/s", t + 1, b / 1e9);
    }
    println!(
        "| model | threads | kernel | tokens/s | MB read/token | bandwidth bound (tokens/s) | ratio |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for case in &cases {
        let per_token = case.model.bytes_per_token() as f64;
        let bound = bandwidth[case.threads - 1] / per_token;
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {bound:.1} | {:.2} |",
            case.name,
            case.threads,
            case.kernel.name(),
            case.best,
            per_token / 1e6,
            case.best / bound
        );
    }
}
