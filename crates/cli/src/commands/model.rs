//! `aorta model publish` and `aorta llm run`: model weights onto the weave, and local inference
//! for people trying a model.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use aorta_ai::chat::Message;
use aorta_ai::{Exec, Kernel, Model, Sampling, Scratch, VecCache};
use aorta_types::deep_hash::{Chunk, deep_hash};
use aorta_types::{Fields, Id, Tag};
use sha2::{Digest, Sha384};

use super::client::Connection;

/// `aorta model …`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Stream a weights file (GGUF, llama2.c) onto the weave as one data item through the
    /// gateway; prints its id, for `Llama.load("/data/<id>")`.
    Publish {
        /// The weights file.
        file: PathBuf,
        /// Its `Name` tag (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Where the node is, and who signs.
        #[command(flatten)]
        connection: Connection,
    },
}

/// `aorta llm …`.
#[derive(clap::Subcommand, Debug)]
pub enum Llm {
    /// Run a model locally: prints the generated text, then tokens/s on stderr.
    Run {
        /// GGUF file, or llama2.c checkpoint (with `tokenizer.bin` beside it or --tokenizer).
        model: PathBuf,
        /// The prompt.
        #[arg(long)]
        prompt: String,
        /// Most tokens to generate.
        #[arg(long, default_value_t = 128)]
        tokens: usize,
        /// Wrap the prompt as a user turn in the model's chat template.
        #[arg(long)]
        chat: bool,
        /// llama2.c tokenizer file.
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        /// Sampling temperature (0: greedy).
        #[arg(long, default_value_t = 0.0)]
        temperature: f32,
        /// Nucleus (top-p) mass.
        #[arg(long, default_value_t = 0.9)]
        top_p: f32,
        /// Seed of the sampler.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Threads (results are the same for any number).
        #[arg(long)]
        threads: Option<usize>,
        /// Inner loops: `avx512vnni`, `avx512`, `avxvnni`, `avx2` or `scalar` (results are the
        /// same; default: the fastest this CPU runs).
        #[arg(long)]
        kernel: Option<String>,
        /// Print the token ids (one line, JSON) after the text.
        #[arg(long)]
        ids: bool,
    },
}

/// Runs `aorta model …`.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Publish {
            file,
            name,
            connection,
        } => {
            let name = name.unwrap_or_else(|| {
                file.file_name()
                    .map_or("model".into(), |n| n.to_string_lossy().into_owned())
            });
            let id = publish(&file, &name, &connection)?;
            println!("{id}");
            Ok(())
        }
    }
}

/// Reads `file` in pieces, calling `each` on every piece and drawing progress as `what`.
fn stream(
    file: &Path,
    what: &str,
    mut each: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let size = std::fs::metadata(file)?.len();
    let mut f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut buf = vec![0u8; 4 << 20];
    let mut done = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        each(&buf[..n])?;
        done += n as u64;
        bar(what, done, size);
    }
    eprintln!();
    Ok(())
}

fn bar(what: &str, done: u64, size: u64) {
    let detail = format!("{:.1}/{:.1} MB", done as f64 / 1e6, size as f64 / 1e6);
    super::draw_bar(&format!("{what} "), done, size, &detail);
}

/// Signs the file as a data item without holding it (the data's SHA-384 is streamed into the
/// signature's deep hash), then uploads it streamed.
fn publish(file: &Path, name: &str, connection: &Connection) -> anyhow::Result<Id> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    let mut head = [0u8; 4];
    std::fs::File::open(file)?.read_exact(&mut head).ok();
    let format = if &head == b"GGUF" { "GGUF" } else { "llama2.c" };
    let tags = vec![
        Tag::new("Content-Type", "application/octet-stream"),
        Tag::new("Type", "Model"),
        Tag::new("Model-Format", format),
        Tag::new("Name", name),
        Tag::new("SDK", "aorta"),
    ];
    let signer = connection.signer()?;
    let kind = signer.signature_type();
    let owner = signer.owner().to_vec();
    let anchor = aorta_types::random_anchor()?;
    let raw_tags = aorta_types::tag::encode(&tags);
    let mut sha = Sha384::new();
    stream(file, "hashing  ", |piece| {
        sha.update(piece);
        Ok(())
    })?;
    let kind_text = kind.as_u16().to_string();
    let message = deep_hash(Chunk::List(&[
        Chunk::Blob(b"dataitem"),
        Chunk::Blob(b"1"),
        Chunk::Blob(kind_text.as_bytes()),
        Chunk::Blob(&owner),
        Chunk::Blob(&[]),
        Chunk::Blob(&anchor),
        Chunk::Blob(&raw_tags),
        Chunk::Digest(size, sha.finalize().into()),
    ]));
    let signature = signer.sign(&message)?;
    let header = Fields {
        kind,
        signature: &signature,
        owner: &owner,
        target: None,
        anchor: Some(&anchor),
        tag_count: tags.len(),
        raw_tags: &raw_tags,
        data: &[],
    }
    .encode();
    let id = Id::of_signature(&signature);
    let data = std::fs::File::open(file)?;
    let mut body = Progress {
        inner: std::io::Cursor::new(header).chain(data),
        done: 0,
        size,
    };
    let gateway = aorta_client::GatewayClient::new(&connection.gateway);
    gateway
        .put_stream(id, &mut body)
        .with_context(|| format!("uploading to {}", connection.gateway))?;
    eprintln!();
    // WeaveDrive admits data attested by one of the process's Attestors (spec §6.7).
    let attestation = aorta_types::DataItemBuilder::new()
        .anchor(aorta_types::random_anchor()?)
        .tags([
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Type", "Attestation"),
            Tag::new("Message", id.to_string()),
        ])
        .sign(&*signer)?;
    aorta_api::Weave::put(&gateway, &attestation).context("uploading the attestation")?;
    eprintln!(
        "attested by {}: processes load it with Extension=WeaveDrive and Attestor={} tags",
        signer.address(),
        signer.address()
    );
    Ok(id)
}

/// A reader that draws upload progress.
struct Progress<R> {
    inner: R,
    done: u64,
    size: u64,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let before = self.done * 100 / self.size.max(1);
        let n = self.inner.read(buf)?;
        self.done = (self.done + n as u64).min(self.size);
        // Redrawn at each whole percent, not at every small read of the HTTP client.
        if self.done * 100 / self.size.max(1) != before || n == 0 {
            bar("uploading", self.done, self.size);
        }
        Ok(n)
    }
}

/// Runs `aorta llm …`.
pub fn llm(command: Llm) -> anyhow::Result<()> {
    let Llm::Run {
        model,
        prompt,
        tokens,
        chat,
        tokenizer,
        temperature,
        top_p,
        seed,
        threads,
        kernel,
        ids,
    } = command;
    let kernel = match kernel.as_deref() {
        None => Kernel::best(),
        Some(k) => Kernel::named(k).with_context(|| {
            let here: Vec<_> = Kernel::available().iter().map(|k| k.name()).collect();
            format!("kernel {k:?} is not available here ({})", here.join(", "))
        })?,
    };
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
    let exec = Exec::new(threads, kernel)?;
    let started = Instant::now();
    let m = Model::open(&model, tokenizer.as_deref())
        .with_context(|| format!("loading {}", model.display()))?;
    let load = started.elapsed();
    let text = if chat {
        aorta_ai::chat::prompt(m.chat_template.as_deref(), &[Message::new("user", &prompt)])
    } else {
        prompt
    };
    let input = m.tokenizer.encode(&text, m.tokenizer.add_bos, chat);
    if input.is_empty() {
        bail!("the prompt has no tokens");
    }
    let sampling = Sampling { temperature, top_p };
    let mut kv = VecCache::new(&m.config, m.config.context);
    let mut s = Scratch::default();
    let t0 = Instant::now();
    for &t in &input {
        m.forward(&exec, t, &mut kv, &mut s)?;
    }
    let prefill = t0.elapsed();
    let mut rng = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::new();
    let mut previous = input.last().copied();
    let t1 = Instant::now();
    let mut stdout = std::io::stdout().lock();
    for _ in 0..tokens {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let u = (rng >> 40) as f32 / (1u64 << 24) as f32;
        let next = aorta_ai::sampler::sample(&s.logits, sampling, u);
        if m.tokenizer.is_end(next) {
            break;
        }
        stdout.write_all(&m.tokenizer.decode(previous, next))?;
        stdout.flush()?;
        out.push(next);
        previous = Some(next);
        m.forward(&exec, next, &mut kv, &mut s)?;
    }
    writeln!(stdout)?;
    if ids {
        writeln!(stdout, "{}", serde_json::to_string(&out)?)?;
    }
    let decode = t1.elapsed();
    eprintln!(
        "{}: loaded in {:.2} s; prompt {} tokens at {:.1} tokens/s; generated {} tokens at {:.1} tokens/s ({} threads, {:?})",
        m.name,
        load.as_secs_f64(),
        input.len(),
        input.len() as f64 / prefill.as_secs_f64().max(1e-9),
        out.len(),
        out.len() as f64 / decode.as_secs_f64().max(1e-9),
        exec.threads(),
        exec.kernel,
    );
    Ok(())
}
