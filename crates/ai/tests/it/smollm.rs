//! SmolLM2-135M-Instruct (Q4_1, GPT-2 BPE): the tokenizer against the `gguf` package's
//! vocabulary, a sensible greedy answer, and the same bits on every thread count and kernel.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use aorta_ai::chat::{Message, prompt};
use aorta_ai::{Exec, Kernel, Model, Scratch, VecCache, sampler};

use crate::fetched;

/// Greedy tokens after `prompt`, and the bits of the last logits.
fn generate(model: &Model, exec: &Exec, prompt: &str, n: usize) -> (Vec<u32>, Vec<u32>) {
    let tokens = model
        .tokenizer
        .encode(prompt, model.tokenizer.add_bos, true);
    let mut kv = VecCache::new(&model.config, 2048);
    let mut s = Scratch::default();
    for &t in &tokens {
        model.forward(exec, t, &mut kv, &mut s).expect("forward");
    }
    let mut out = Vec::new();
    for _ in 0..n {
        let next = sampler::sample(&s.logits, Default::default(), 0.0);
        if model.tokenizer.is_end(next) {
            break;
        }
        out.push(next);
        model.forward(exec, next, &mut kv, &mut s).expect("forward");
    }
    (out, s.logits.iter().map(|l| l.to_bits()).collect())
}

/// Runs a script of `tests/reference` on `model` with `input` as JSON on stdin; its JSON output.
fn reference<I: serde::Serialize + ?Sized, O: serde::de::DeserializeOwned>(
    python: &Path,
    script: &str,
    model: &Path,
    input: &I,
) -> O {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(script);
    let mut child = Command::new(python)
        .arg(&script)
        .arg(model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(input).expect("json").as_bytes())
        .expect("writing the input");
    let out = child.wait_with_output().expect("the script's output");
    assert!(out.status.success(), "{} failed", script.display());
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// A user turn in the model's own chat format (SmolLM2's adds its default system turn).
fn chat(model: &Model, question: &str) -> String {
    prompt(
        model.chat_template.as_deref(),
        &[Message::new("user", question)],
    )
}

#[test]
/// Token ids equal those of a Hugging Face `tokenizers` BPE built from the vocabulary and
/// merges that the `gguf` package reads from the same file; decoding gives the text back.
fn tokenizer_matches_the_gguf_package() {
    let (path, python) = fetched();
    let model = Model::open(path, None).expect("load");
    let sentences = [
        "Hello, world!",
        "What is the capital of France?",
        "  leading spaces and\ttabs\n\nnewlines   ",
        "numbers 12345 and 3.14159, 2nd place",
        "emoji 🦙 and accents café naïve Ωμέγα",
        "<|im_start|>user\nHi there<|im_end|>\n",
        "don't won't it's we'll they're I'm you've he'd",
        "中文 日本語 한국어",
        "fn main() { println!(\"{}\", x[0] + 1); } // code",
        "MiXeD CaSe and ALLCAPS words, ... !!! ???",
    ];
    let expected: Vec<Vec<u32>> = reference(python, "reference_tokenizer.py", path, &sentences);
    for (sentence, want) in sentences.iter().zip(&expected) {
        let got = model.tokenizer.encode(sentence, false, true);
        assert_eq!(&got, want, "{sentence:?}");
        assert_eq!(
            model.tokenizer.decode_all(&got).as_str(),
            sentence
                .replace("<|im_start|>", "")
                .replace("<|im_end|>", "")
        );
    }
}

#[test]
/// Greedy SmolLM2 answers a factual question sensibly.
fn answers_a_question() {
    let (path, _) = fetched();
    let model = Model::open(path, None).expect("load");
    let exec = Exec::new(2, Kernel::best()).expect("threads");
    let (out, _) = generate(
        &model,
        &exec,
        &chat(&model, "What is the capital of France?"),
        24,
    );
    let text = model.tokenizer.decode_all(&out);
    assert!(text.contains("Paris"), "{text:?}");
}

#[test]
/// One thread with the scalar kernel and two threads with each SIMD kernel this CPU has give
/// the same tokens and the same logits, bit for bit.
fn same_bits_on_every_path() {
    let (path, _) = fetched();
    let model = Model::open(path, None).expect("load");
    let p = chat(&model, "Name a colour.");
    let one = generate(&model, &Exec::new(1, Kernel::Scalar).expect("exec"), &p, 6);
    assert!(!one.0.is_empty());
    for kernel in &Kernel::available()[1..] {
        let two = generate(&model, &Exec::new(2, *kernel).expect("exec"), &p, 6);
        assert_eq!(one, two, "{kernel:?}");
    }
}

#[test]
/// Our logits track an independent float64 llama in numpy over the weights the `gguf` package
/// dequantises: the same top token, and within 0.1 % (16-bit activations; 8 bits gave 3 %).
fn logits_track_the_numpy_reference() {
    let (path, python) = fetched();
    let model = Model::open(path, None).expect("load");
    let p = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    let tokens = model.tokenizer.encode(p, false, true);
    let mut kv = VecCache::new(&model.config, 64);
    let mut s = Scratch::default();
    for &t in &tokens {
        model
            .forward(&Exec::single(), t, &mut kv, &mut s)
            .expect("forward");
    }
    let reference: Vec<f64> = reference(python, "reference_forward.py", path, &tokens);
    assert_eq!(reference.len(), s.logits.len());
    let argmax = |v: &[f64]| {
        (0..v.len())
            .max_by(|&a, &b| v[a].total_cmp(&v[b]))
            .expect("logits")
    };
    let ours: Vec<f64> = s.logits.iter().map(|&v| f64::from(v)).collect();
    assert_eq!(argmax(&ours), argmax(&reference));
    let diff: f64 = ours
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).powi(2))
        .sum();
    let norm: f64 = reference.iter().map(|b| b * b).sum();
    let relative = (diff / norm).sqrt();
    eprintln!("relative L2 difference from the float64 reference: {relative:.4}");
    assert!(relative < 0.001, "{relative}");
}
