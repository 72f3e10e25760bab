//! `aorta spawn | send | eval | result`: a running node (`aorta dev`, or units anywhere) used the
//! way an ao developer uses it, signed with a wallet created on first use.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use aorta_api::{ComputeApi as _, Query, Sort, Weave as _};
use aorta_client::{CuClient, GatewayClient, MuClient};
use aorta_types::{DataItem, DataItemBuilder, Id, ProcessId, Signer, Tag, WalletKind};
use serde_json::Value;

use crate::commands::wallet;

/// Where the node is, and who signs.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The Messenger Unit.
    #[arg(
        long,
        env = "AORTA_MU_URL",
        default_value = "http://127.0.0.1:3005",
        global = true
    )]
    pub mu: String,
    /// The Compute Unit.
    #[arg(
        long,
        env = "AORTA_CU_URL",
        default_value = "http://127.0.0.1:6363",
        global = true
    )]
    pub cu: String,
    /// The gateway (modules and schedulers are looked up there).
    #[arg(
        long,
        env = "AORTA_GATEWAY_URL",
        default_value = "http://127.0.0.1:4000",
        global = true
    )]
    pub gateway: String,
    /// The wallet that signs (a JWK); `<data dir>/wallets/user.json`, created on first use,
    /// when not given.
    #[arg(long, env = "AORTA_WALLET", global = true)]
    pub wallet: Option<PathBuf>,
    /// The data directory holding the default wallet.
    #[arg(long, env = "AORTA_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// `aorta spawn`.
#[derive(clap::Args, Debug)]
pub struct SpawnArgs {
    /// The module; the node's default (aos-compatible) module when not given.
    #[arg(long, allow_hyphen_values = true)]
    pub module: Option<String>,
    /// The process's `Name`.
    #[arg(long)]
    pub name: Option<String>,
    /// More tags, `Name=Value`, repeatable.
    #[arg(long = "tag", value_parser = parse_tag, allow_hyphen_values = true)]
    pub tags: Vec<Tag>,
    /// The process's data (with `On-Boot: Data`, Lua run at boot).
    #[arg(long, allow_hyphen_values = true)]
    pub data: Option<String>,
    /// The scheduler; the newest one on the gateway when not given.
    #[arg(long, allow_hyphen_values = true)]
    pub scheduler: Option<String>,
    /// Where the node is.
    #[command(flatten)]
    pub connection: Connection,
}

/// `aorta send`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// The process.
    #[arg(allow_hyphen_values = true)]
    pub process: String,
    /// The `Action` tag.
    #[arg(long)]
    pub action: Option<String>,
    /// The data.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub data: String,
    /// More tags, `Name=Value`, repeatable.
    #[arg(long = "tag", value_parser = parse_tag, allow_hyphen_values = true)]
    pub tags: Vec<Tag>,
    /// Where the node is.
    #[command(flatten)]
    pub connection: Connection,
}

/// `aorta eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The process.
    #[arg(allow_hyphen_values = true)]
    pub process: String,
    /// Lua code, evaluated by the process (its owner's `Eval`).
    #[arg(allow_hyphen_values = true)]
    pub code: String,
    /// Where the node is.
    #[command(flatten)]
    pub connection: Connection,
}

/// `aorta result`.
#[derive(clap::Args, Debug)]
pub struct ResultArgs {
    /// The message.
    #[arg(allow_hyphen_values = true)]
    pub message: String,
    /// Its process.
    #[arg(long, allow_hyphen_values = true)]
    pub process: String,
    /// Where the node is.
    #[command(flatten)]
    pub connection: Connection,
}

fn parse_tag(text: &str) -> Result<Tag, String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: a tag is Name=Value"))?;
    if name.is_empty() {
        return Err(format!("{text:?}: a tag needs a name"));
    }
    Ok(Tag::new(name, value))
}

fn id(text: &str, what: &str) -> anyhow::Result<Id> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("{what} {text:?} is not a 43-character id"))
}

impl Connection {
    /// The wallet that signs (`--wallet`, else the user wallet of the data directory).
    pub fn signer(&self) -> anyhow::Result<Arc<dyn Signer>> {
        let path = match &self.wallet {
            Some(path) => path.clone(),
            None => crate::data_dir(self.data_dir.as_deref())?.join("wallets/user.json"),
        };
        Ok(Arc::from(
            wallet::load_or_create(&path, WalletKind::Ed25519)?.into_signer(),
        ))
    }

    fn sign(
        &self,
        signer: &dyn Signer,
        target: Option<Id>,
        tags: Vec<Tag>,
        data: &str,
    ) -> anyhow::Result<DataItem> {
        let mut builder = DataItemBuilder::new()
            .anchor(aorta_types::random_anchor().context("drawing an anchor")?)
            .tags(tags)
            .data(data.as_bytes().to_vec());
        if let Some(target) = target {
            builder = builder.target(target);
        }
        builder.sign(signer).context("signing")
    }

    /// Signs a module and uploads it through the gateway; its id.
    pub fn publish(&self, module: aorta_types::ao::ModuleBuilder) -> anyhow::Result<Id> {
        let signer = self.signer()?;
        let item = module.sign(&*signer).context("signing")?;
        GatewayClient::new(&self.gateway)
            .put(&item)
            .with_context(|| format!("uploading to {}", self.gateway))?;
        Ok(item.id())
    }

    /// Sends a message and prints its result.
    fn message(&self, process: Id, mut tags: Vec<Tag>, data: &str) -> anyhow::Result<Value> {
        let signer = self.signer()?;
        let mut all = vec![
            Tag::new("Data-Protocol", "ao"),
            Tag::new("Variant", "ao.TN.1"),
            Tag::new("Type", "Message"),
            Tag::new("SDK", "aorta"),
        ];
        all.append(&mut tags);
        let item = self.sign(&*signer, Some(process), all, data)?;
        let message = MuClient::new(&self.mu)
            .send(&item)
            .with_context(|| format!("sending to {}", self.mu))?;
        eprintln!("message {message}");
        CuClient::new(&self.cu)
            .result(message, ProcessId(process))
            .with_context(|| format!("reading the result from {}", self.cu))
    }
}

fn newest(gateway: &GatewayClient, query: Query) -> anyhow::Result<Option<aorta_api::Header>> {
    Ok(gateway
        .query(&query.sort(Sort::HeightDesc).limit(1))
        .context("querying the gateway")?
        .edges
        .into_iter()
        .next()
        .map(|e| e.header))
}

/// `aorta spawn`: prints the new process's id.
pub fn spawn(args: &SpawnArgs) -> anyhow::Result<()> {
    let c = &args.connection;
    let gateway = GatewayClient::new(&c.gateway);
    let module = match &args.module {
        Some(m) => m.clone(),
        None => newest(
            &gateway,
            Query::new()
                .tag("Type", ["Module"])
                .tag("Name", ["aorta-aos"]),
        )?
        .context("no default module on the gateway: pass --module")?
        .id()
        .to_string(),
    };
    let scheduler = match &args.scheduler {
        Some(s) => s.clone(),
        None => newest(
            &gateway,
            Query::new()
                .tag("Data-Protocol", ["ao"])
                .tag("Type", ["Scheduler-Location"]),
        )?
        .context("no Scheduler-Location on the gateway: pass --scheduler")?
        .address()
        .to_string(),
    };
    let mu = MuClient::new(&c.mu);
    let mut tags = vec![
        Tag::new("Data-Protocol", "ao"),
        Tag::new("Variant", "ao.TN.1"),
        Tag::new("Type", "Process"),
        Tag::new("Module", module),
        Tag::new("Scheduler", scheduler),
        Tag::new("SDK", "aorta"),
        // The MU signs what processes send each other: trust it.
        Tag::new(
            "Authority",
            mu.address().context("asking the MU for its address")?,
        ),
    ];
    if let Some(name) = &args.name {
        tags.push(Tag::new("Name", name.clone()));
    }
    if args.data.is_some() {
        tags.push(Tag::new("On-Boot", "Data"));
    }
    tags.extend(args.tags.iter().cloned());
    let signer = c.signer()?;
    let item = c.sign(&*signer, None, tags, args.data.as_deref().unwrap_or("1984"))?;
    let pid = mu
        .send(&item)
        .with_context(|| format!("spawning through {}", c.mu))?;
    println!("{pid}");
    Ok(())
}

/// `aorta send`: prints the message's result.
pub fn send(args: &SendArgs) -> anyhow::Result<()> {
    let mut tags = Vec::new();
    if let Some(action) = &args.action {
        tags.push(Tag::new("Action", action.clone()));
    }
    tags.extend(args.tags.iter().cloned());
    let result = args
        .connection
        .message(id(&args.process, "process")?, tags, &args.data)?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}

/// `aorta eval`: prints what the code printed or returned, or its error.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    let result = args.connection.message(
        id(&args.process, "process")?,
        vec![Tag::new("Action", "Eval")],
        &args.code,
    )?;
    if let Some(text) = printed(&result).map_err(|e| anyhow::anyhow!(e))? {
        println!("{text}");
    }
    Ok(())
}

/// `aorta result`: prints a message's result.
pub fn result(args: &ResultArgs) -> anyhow::Result<()> {
    let c = &args.connection;
    let result = CuClient::new(&c.cu)
        .result(
            id(&args.message, "message")?,
            ProcessId(id(&args.process, "process")?),
        )
        .with_context(|| format!("reading the result from {}", c.cu))?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
/// `aorta repl`.
#[derive(clap::Args, Debug)]
pub struct ReplArgs {
    /// The process.
    #[arg(allow_hyphen_values = true)]
    pub process: String,
    /// Where the node is.
    #[command(flatten)]
    pub connection: Connection,
}

/// What a dry-run Eval prints (as the process's owner), or its error.
fn peek(cu: &CuClient, process: ProcessId, owner: &str, code: &str) -> anyhow::Result<String> {
    let result = cu.dry_run(
        process,
        &serde_json::json!({
            "Target": process.to_string(),
            "Owner": owner,
            "Tags": [{ "name": "Action", "value": "Eval" }],
            "Data": code,
        }),
    )?;
    Ok(printed(&result)
        .map_err(|e| anyhow::anyhow!(e))?
        .unwrap_or_default())
}

/// What an evaluation printed (its `Output`, or `Output.data`), `None` when it printed nothing;
/// or its `Error` as text.
fn printed(result: &Value) -> Result<Option<String>, String> {
    if let Some(error) = result.get("Error").filter(|e| !e.is_null()) {
        return Err(error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_owned));
    }
    let output = &result["Output"];
    Ok(match output.get("data").or(Some(output)) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    })
}

/// `aorta repl`: an aos-like prompt. Each line is evaluated in the process (`Eval`), what it
/// prints is shown, and messages that arrived in its `Inbox` meanwhile are listed. `.load FILE`
/// evaluates a file; `.exit` (or end of input) leaves.
pub fn repl(args: &ReplArgs) -> anyhow::Result<()> {
    use std::io::{BufRead as _, Write as _};
    let c = &args.connection;
    let process = ProcessId(id(&args.process, "process")?);
    let owner = c.signer()?.address().to_string();
    let cu = CuClient::new(&c.cu);
    let inbox = |cu: &CuClient| -> usize {
        peek(cu, process, &owner, "return #Inbox")
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let mut seen = inbox(&cu);
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let prompt = |out: &mut std::io::Stdout| {
        let _ = write!(out, "aos> ");
        let _ = out.flush();
    };
    prompt(&mut out);
    for line in stdin.lock().lines() {
        let line = line?;
        let line = line.trim();
        let code = if line == ".exit" {
            break;
        } else if let Some(file) = line.strip_prefix(".load ") {
            match std::fs::read_to_string(file.trim()) {
                Ok(code) => code,
                Err(e) => {
                    writeln!(out, "error: reading {}: {e}", file.trim())?;
                    prompt(&mut out);
                    continue;
                }
            }
        } else if line.is_empty() {
            prompt(&mut out);
            continue;
        } else {
            line.to_owned()
        };
        match c.message(process.id(), vec![Tag::new("Action", "Eval")], &code) {
            Ok(result) => match printed(&result) {
                Err(error) => writeln!(out, "error: {error}")?,
                Ok(Some(text)) if !text.is_empty() => writeln!(out, "{text}")?,
                Ok(_) => {}
            },
            Err(e) => writeln!(out, "error: {e:#}")?,
        }
        let now = inbox(&cu);
        for n in seen + 1..=now {
            let summary = peek(
                &cu,
                process,
                &owner,
                &format!(
                    "local m = Inbox[{n}] return 'New message from ' .. tostring(m.From) .. ': Action = ' .. tostring(m.Action) .. ', Data = ' .. tostring(m.Data)"
                ),
            )
            .unwrap_or_else(|e| format!("(message {n}: {e})"));
            writeln!(out, "{summary}")?;
        }
        seen = seen.max(now);
        prompt(&mut out);
    }
    writeln!(out)?;
    Ok(())
}
