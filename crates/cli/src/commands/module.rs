//! `aorta module`: build and run process modules locally.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use aorta_vm::{Instance, Limits, Outcome, Runtime};
use aorta_vm_lua::bundle::{SourceFile, bundle};
use serde_json::{Value, json};

/// `aorta module …`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Bundle a folder of Lua files into one `lua-5.3` module (package.preload entries, then
    /// the main file).
    Build {
        /// The process folder.
        dir: PathBuf,
        /// Where to write the module.
        #[arg(long)]
        out: PathBuf,
        /// The file that runs last and defines `handle` (relative to the folder).
        #[arg(long, default_value = "main.lua")]
        main: String,
    },
    /// Evaluate a module over a file of `{"msg": …, "env": …}` lines with a fresh process;
    /// print one `{"ok": …, "response": …}` line per message. A message that fails is rolled
    /// back, as a Compute Unit does.
    Run {
        /// The module file.
        module: PathBuf,
        /// Its `Module-Format`: `lua-5.3`, or one of ao's WASM formats
        /// (`wasm32-unknown-emscripten4`, `wasm64-unknown-emscripten-draft_2024_02_15`, …).
        #[arg(long, default_value = aorta_vm_lua::FORMAT)]
        format: String,
        /// The messages, one JSON object per line (`-` for standard input).
        #[arg(long)]
        messages: PathBuf,
        /// Memory limit, as in a `Memory-Limit` tag (`512-mb`, `1-gb`) or bytes.
        #[arg(long, default_value = "1-gb")]
        memory_limit: String,
        /// Compute limit per message (gas: Lua VM instructions; WASM fuel, enforced for the
        /// metering formats).
        #[arg(long, default_value_t = Limits::DEFAULT_COMPUTE)]
        compute_limit: u64,
    },
    /// Publish a module to the weave through a gateway (its `POST /tx/arweave`); prints its id.
    Publish {
        /// The module file.
        file: PathBuf,
        /// Its `Module-Format`.
        #[arg(long, default_value = aorta_vm_lua::FORMAT)]
        format: String,
        /// Its `Name`.
        #[arg(long)]
        name: Option<String>,
        /// `Memory-Limit` of its processes.
        #[arg(long, default_value = "1-gb")]
        memory_limit: String,
        /// `Compute-Limit` of its processes.
        #[arg(long, default_value = "9000000000000")]
        compute_limit: String,
        /// Where the node is, and who signs.
        #[command(flatten)]
        connection: crate::commands::client::Connection,
    },
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build { dir, out, main } => build(&dir, &out, &main),
        Command::Run {
            module,
            format,
            messages,
            memory_limit,
            compute_limit,
        } => {
            let memory = aorta_types::ao::parse_memory_limit(&memory_limit)
                .with_context(|| format!("memory limit {memory_limit:?}"))?;
            let limits = Limits {
                memory,
                compute: compute_limit,
                ..Limits::default()
            };
            let stdout = std::io::stdout();
            run_messages(&module, &format, &messages, limits, &mut stdout.lock())
        }
        Command::Publish {
            file,
            format,
            name,
            memory_limit,
            compute_limit,
            connection,
        } => {
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            aorta_types::ao::parse_memory_limit(&memory_limit)
                .with_context(|| format!("memory limit {memory_limit:?}"))?;
            aorta_types::ao::parse_compute_limit(&compute_limit)
                .with_context(|| format!("compute limit {compute_limit:?}"))?;
            let mut module = aorta_types::ao::ModuleBuilder::new(format, data)
                .tag("Memory-Limit", memory_limit)
                .tag("Compute-Limit", compute_limit);
            if let Some(name) = name {
                module = module.tag("Name", name);
            }
            let id = connection.publish(module)?;
            println!("{id}");
            Ok(())
        }
    }
}

fn build(dir: &Path, out: &Path, main: &str) -> anyhow::Result<()> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    if files.is_empty() {
        bail!("no .lua files under {}", dir.display());
    }
    let chunk = bundle(&files, main)?;
    // The bundle must at least compile; running it is `aorta module run`'s job.
    aorta_vm_lua::LuaRuntime::default()
        .load(aorta_vm_lua::FORMAT, chunk.as_bytes(), Limits::default())
        .with_context(|| format!("the bundle of {} does not load", dir.display()))?;
    std::fs::write(out, chunk).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "bundled {} files from {} into {}",
        files.len(),
        dir.display(),
        out.display()
    );
    Ok(())
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<SourceFile>) -> anyhow::Result<()> {
    let mut entries = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        entries.insert(entry.file_name(), entry.path());
    }
    for path in entries.into_values() {
        if path.is_dir() {
            collect(root, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "lua") {
            let relative = path
                .strip_prefix(root)
                .context("a file outside the folder")?
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            files.push(SourceFile {
                path: relative,
                text,
            });
        }
    }
    Ok(())
}

fn run_messages(
    module: &Path,
    format: &str,
    messages: &Path,
    limits: Limits,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let data = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
    let runtimes: [Box<dyn Runtime>; 2] = [
        Box::new(aorta_vm_lua::LuaRuntime::default()),
        Box::new(aorta_vm_wasm::WasmRuntime::new()),
    ];
    let runtime = runtimes
        .iter()
        .find(|r| r.formats().contains(&format))
        .with_context(|| {
            let known: Vec<&str> = runtimes.iter().flat_map(|r| r.formats()).copied().collect();
            format!("format {format:?} is not one of {}", known.join(", "))
        })?;
    let loaded = runtime.load(format, &data, limits)?;
    let mut process: Box<dyn Instance> = loaded.instantiate()?;
    let input: Box<dyn BufRead> = if messages == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(messages)
                .with_context(|| format!("opening {}", messages.display()))?,
        ))
    };
    let mut last_env: Option<Arc<Value>> = None;
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let mut entry: Value =
            serde_json::from_str(&line).with_context(|| format!("line {}: not JSON", n + 1))?;
        let msg = entry
            .get_mut("msg")
            .map(Value::take)
            .with_context(|| format!("line {}: no \"msg\"", n + 1))?;
        let env = entry.get_mut("env").map_or_else(|| json!({}), Value::take);
        // Consecutive lines usually share an environment: share it too.
        if last_env.as_deref() != Some(&env) {
            last_env = Some(Arc::new(env));
        }
        let env = last_env
            .as_ref()
            .unwrap_or_else(|| unreachable!("set above"));
        let evaluation = process.handle(msg, env)?;
        let line = match evaluation.outcome {
            Outcome::Ok(response) => {
                let mut value = response.to_value();
                if let Value::Object(fields) = &mut value {
                    fields.insert("GasUsed".into(), json!(evaluation.gas_used));
                }
                json!({"ok": true, "response": value})
            }
            Outcome::Error(error) => json!({"ok": false, "response": error}),
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}
