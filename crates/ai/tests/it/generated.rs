//! Generated models in both formats: loading, agreement between formats and types, tokenizers,
//! determinism, and refusal of malformed files.

use aorta_ai::dtype::DType;
use aorta_ai::testing::{Shape, Vocab, gguf, llama2c, llama2c_tokenizer};
use aorta_ai::{Error, Exec, Kernel, Model, Scratch, Storage, VecCache};

/// Logits after each of `tokens`.
fn run(model: &Model, exec: &Exec, tokens: &[u32]) -> Vec<Vec<f32>> {
    let mut kv = VecCache::new(&model.config, 64);
    let mut s = Scratch::default();
    tokens
        .iter()
        .map(|&t| {
            model.forward(exec, t, &mut kv, &mut s).expect("forward");
            s.logits.clone()
        })
        .collect()
}

fn bits(v: &[Vec<f32>]) -> Vec<Vec<u32>> {
    v.iter()
        .map(|l| l.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn exec(threads: usize, kernel: Kernel) -> Exec {
    Exec::new(threads, kernel).expect("exec")
}

#[test]
/// A llama2.c checkpoint with separate classifier and the same weights written as a GGUF F32
/// file give identical logits: the two loaders agree on every tensor's layout.
fn llama2c_and_gguf_agree() {
    let shape = Shape::tiny(300);
    let bin = llama2c(shape, false, 5);
    let tok = llama2c_tokenizer(300);
    let a = Model::from_llama2c(Storage::Owned(bin.clone()), &tok).expect("llama2.c");
    let b = Model::from_gguf(Storage::Owned(aorta_ai::testing::llama2c_as_gguf(
        &bin, shape,
    )))
    .expect("gguf");
    assert_eq!(a.config.dim, b.config.dim);
    let tokens = [1, 40, 7, 299, 3];
    let e = Exec::single();
    assert_eq!(bits(&run(&a, &e, &tokens)), bits(&run(&b, &e, &tokens)));
    // The shared-classifier variant loads and differs (its head is the embeddings).
    let shared =
        Model::from_llama2c(Storage::Owned(llama2c(shape, true, 5)), &tok).expect("shared");
    assert_ne!(
        bits(&run(&shared, &e, &tokens)),
        bits(&run(&a, &e, &tokens))
    );
}

#[test]
/// Quantised copies of one model stay close to its F32 logits; the closer the type, the
/// closer the logits.
fn quantised_types_track_f32() {
    let shape = Shape::tiny(320);
    let load = |t| {
        Model::from_gguf(Storage::Owned(gguf(
            shape,
            t,
            Vocab::SentencePiece,
            true,
            9,
        )))
        .expect("load")
    };
    let tokens = [1, 300, 260, 301];
    let e = Exec::single();
    let reference = run(&load(DType::F32), &e, &tokens);
    let error = |t| {
        let got = run(&load(t), &e, &tokens);
        let (mut num, mut den) = (0f64, 0f64);
        for (g, r) in got.iter().flatten().zip(reference.iter().flatten()) {
            num += f64::from(g - r).powi(2);
            den += f64::from(*r).powi(2);
        }
        (num / den).sqrt()
    };
    let f16 = error(DType::F16);
    let q8 = error(DType::Q8_0);
    let q41 = error(DType::Q4_1);
    let q40 = error(DType::Q4_0);
    eprintln!("relative error: F16 {f16:.5} Q8_0 {q8:.5} Q4_1 {q41:.5} Q4_0 {q40:.5}");
    assert!(f16 < 0.01 && q8 < 0.05, "F16 {f16}, Q8_0 {q8}");
    assert!(q41 < 0.3 && q40 < 0.3, "Q4_1 {q41}, Q4_0 {q40}");
    assert!(f16 < q8 && q8 < q41.min(q40));
}

#[test]
/// Every type gives the same bits on one thread with the scalar kernel and on two threads
/// with every kernel this CPU has.
fn same_bits_on_every_path() {
    for (dtype, vocab) in [
        (DType::F32, Vocab::SentencePiece),
        (DType::F16, Vocab::Bpe),
        (DType::Q8_0, Vocab::SentencePiece),
        (DType::Q4_0, Vocab::Bpe),
        (DType::Q4_1, Vocab::SentencePiece),
    ] {
        let model = Model::from_gguf(Storage::Owned(gguf(
            Shape::tiny(320),
            dtype,
            vocab,
            false,
            3,
        )))
        .expect("load");
        let tokens = [1, 17, 300, 2, 260, 99];
        let one = run(&model, &exec(1, Kernel::Scalar), &tokens);
        for kernel in Kernel::available() {
            let two = run(&model, &exec(2, kernel), &tokens);
            assert_eq!(bits(&one), bits(&two), "{dtype:?} on {kernel:?}");
        }
    }
}

#[test]
/// SentencePiece vocabularies (GGUF `llama` and llama2.c): merges by score, the space prefix,
/// byte fallback for what the vocabulary lacks, and decoding back.
fn sentencepiece_tokenizers() {
    let g = Model::from_gguf(Storage::Owned(gguf(
        Shape::tiny(320),
        DType::F32,
        Vocab::SentencePiece,
        false,
        1,
    )))
    .expect("gguf");
    let t = &g.tokenizer;
    let ids = t.encode("hello world", true, false);
    let pieces: Vec<&str> = ids.iter().map(|&i| t.piece(i).expect("piece")).collect();
    assert_eq!(pieces, ["<s>", "\u{2581}hello", "\u{2581}world"]);
    let ids = t.encode("hello ~é", false, false);
    let pieces: Vec<&str> = ids.iter().map(|&i| t.piece(i).expect("piece")).collect();
    assert_eq!(
        pieces,
        ["\u{2581}hello", "\u{2581}", "<0x7E>", "<0xC3>", "<0xA9>"]
    );
    assert_eq!(
        t.decode_all(&t.encode("hello ~é world", true, false)),
        "hello ~é world"
    );

    let l = Model::from_llama2c(
        Storage::Owned(llama2c(Shape::tiny(320), true, 2)),
        &llama2c_tokenizer(320),
    )
    .expect("llama2.c");
    let t = &l.tokenizer;
    let ids = t.encode("hello world the", true, false);
    let pieces: Vec<&str> = ids.iter().map(|&i| t.piece(i).expect("piece")).collect();
    assert_eq!(pieces, ["<s>", " hello", " world", " the"]);
    assert_eq!(t.decode_all(&ids), "hello world the");
    // Characters outside the vocabulary become their UTF-8 bytes.
    let ids = t.encode("ω", false, false);
    let pieces: Vec<&str> = ids.iter().map(|&i| t.piece(i).expect("piece")).collect();
    assert_eq!(pieces, [" ", "<0xCF>", "<0x89>"]);
    assert!(t.is_end(2));
}

#[test]
/// The GPT-2 vocabulary: merges by rank, digits alone, special tokens only when asked.
fn bpe_tokenizer() {
    let m = Model::from_gguf(Storage::Owned(gguf(
        Shape::tiny(320),
        DType::F32,
        Vocab::Bpe,
        false,
        1,
    )))
    .expect("gguf");
    let t = &m.tokenizer;
    let ids = t.encode("hello the world 42", false, false);
    let pieces: Vec<&str> = ids.iter().map(|&i| t.piece(i).expect("piece")).collect();
    assert_eq!(pieces, ["hello", "Ġthe", "Ġworld", "Ġ", "4", "2"]);
    assert_eq!(t.encode("<|im_end|>", false, true), [2]);
    assert_ne!(t.encode("<|im_end|>", false, false), [2]);
    assert!(t.is_end(2));
    assert_eq!(
        t.decode_all(&t.encode("héllo, 世界", false, false)),
        "héllo, 世界"
    );
}

#[test]
/// Malformed files are refused with a reason, never a panic.
fn malformed_files_are_refused() {
    let good = gguf(Shape::tiny(320), DType::Q4_1, Vocab::Bpe, false, 1);
    for cut in [0, 3, 10, 100, 2000, good.len() / 2, good.len() - 1] {
        let err = Model::from_gguf(Storage::Owned(good[..cut].to_vec())).expect_err("truncated");
        assert!(matches!(err, Error::Format(_)), "cut {cut}: {err}");
    }
    let mut odd = good.clone();
    // The first tensor's type field → an unsupported type (Q4_K = 12).
    let name = b"token_embd.weight";
    let at = odd
        .windows(name.len())
        .position(|w| w == name)
        .expect("tensor name")
        + name.len();
    odd[at + 4 + 16..at + 4 + 20].copy_from_slice(&12u32.to_le_bytes());
    let err = Model::from_gguf(Storage::Owned(odd)).expect_err("unsupported");
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    let bin = llama2c(Shape::tiny(300), true, 1);
    let err = Model::from_llama2c(
        Storage::Owned(bin[..bin.len() / 2].to_vec()),
        &llama2c_tokenizer(300),
    )
    .expect_err("short");
    assert!(err.to_string().contains("header implies"), "{err}");
}
