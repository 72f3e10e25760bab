//! WeaveDrive for the CU's processes (spec §6.7): `/data/<id>`, `/tx/<id>`, `/block/<height>`
//! served from the weave, with the admissibility rules.
//!
//! A file is admissible when its id is the process's `On-Boot` value, or when the process or
//! its module has `Extension: WeaveDrive` (Memory64 modules always have it, as in the
//! reference) and the availability mode admits it: `Assignments` (the default) needs an
//! `Attestation` of the id signed by the process's `Scheduler` or one of its `Attestor`s;
//! `Individual` also accepts a `Data-Protocol: WeaveDrive, Type: Available` record from them;
//! `Library` is refused (not defined by ao). Owners are checked by signature, never by tag.

use std::io::Read;
use std::sync::Arc;

use aorta_api::{ByteRange, Chain, Query, TagFilter, Weave};
use aorta_types::{Address, Id, b64};
use aorta_vm::drive::{BytesFile, Drive, DriveContext, DriveFile};
use serde_json::{Value, json};

/// The weave as a WeaveDrive.
#[derive(Clone)]
pub struct WeaveDrive {
    weave: Arc<dyn Weave>,
    chain: Arc<dyn Chain>,
}

impl WeaveDrive {
    /// A drive over `weave` (data and headers) and `chain` (blocks).
    pub fn new(weave: Arc<dyn Weave>, chain: Arc<dyn Chain>) -> Self {
        Self { weave, chain }
    }
}

/// The tags of `env[part]` as name/value pairs.
fn env_tags<'a>(env: &'a Value, part: &str) -> Vec<(&'a str, &'a str)> {
    env[part]["Tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| Some((t["name"].as_str()?, t["value"].as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn find<'a>(tags: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    tags.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

impl WeaveDrive {
    fn admissible(&self, id: Id, env: &Value) -> Result<(), String> {
        let process = env_tags(env, "Process");
        let module = env_tags(env, "Module");
        if find(&process, "On-Boot") == Some(id.to_string().as_str()) {
            return Ok(());
        }
        let extension = |tags: &[(&str, &str)]| {
            tags.iter()
                .any(|(n, v)| *n == "Extension" && *v == "WeaveDrive")
        };
        let memory64 = find(&module, "Module-Format").is_some_and(|f| f.starts_with("wasm64-"));
        if !(extension(&process) || extension(&module) || memory64) {
            return Err("the process has no Extension: WeaveDrive".into());
        }
        let mode = find(&process, "Availability-Type")
            .or_else(|| find(&module, "Availability-Type"))
            .unwrap_or("Assignments");
        let mut owners: Vec<Address> = Vec::new();
        for (name, value) in &process {
            if matches!(*name, "Scheduler" | "Attestor")
                && let Ok(address) = value.parse()
            {
                owners.push(address);
            }
        }
        if owners.is_empty() {
            return Err("the process names no Scheduler or Attestor to attest data".into());
        }
        let mut kinds = vec![vec![
            TagFilter::new("Type", ["Attestation"]),
            TagFilter::new("Message", [id.to_string()]),
        ]];
        match mode {
            "Assignments" => {}
            "Individual" => kinds.push(vec![
                TagFilter::new("Data-Protocol", ["WeaveDrive"]),
                TagFilter::new("Type", ["Available"]),
                TagFilter::new("ID", [id.to_string()]),
            ]),
            other => return Err(format!("availability type {other:?} is not supported")),
        }
        for tags in kinds {
            let query = Query {
                owners: owners.clone(),
                tags,
                limit: 1,
                ..Query::default()
            };
            let page = self.weave.query(&query).map_err(|e| e.to_string())?;
            if !page.edges.is_empty() {
                return Ok(());
            }
        }
        Err(format!("{id} is not attested for this process ({mode})"))
    }
}

impl Drive for WeaveDrive {
    fn open(&self, path: &str, context: &DriveContext) -> Result<Box<dyn DriveFile>, String> {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let (kind, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        match kind {
            "data" | "tx" => {
                let id: Id = rest.parse().map_err(|_| format!("{rest:?} is not an id"))?;
                self.admissible(id, &context.env)?;
                let header = self
                    .weave
                    .header(id)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{id} is not on the weave"))?;
                if kind == "data" {
                    return Ok(Box::new(WeaveFile {
                        weave: Arc::clone(&self.weave),
                        id,
                        size: header.data_size(),
                    }));
                }
                let tags: Vec<Value> = header
                    .tags()
                    .iter()
                    .map(|t| json!({"name": b64::encode(t.name.as_bytes()), "value": b64::encode(t.value.as_bytes())}))
                    .collect();
                let tx = json!({
                    "format": 2,
                    "id": id.to_string(),
                    "owner": b64::encode(header.owner()),
                    "ownerAddress": header.owner_address().to_string(),
                    "target": header.target().map(|t| t.to_string()).unwrap_or_default(),
                    "anchor": header.anchor().map(b64::encode).unwrap_or_default(),
                    "tags": tags,
                    "data_size": header.data_size().to_string(),
                    "signature": b64::encode(header.signature()),
                });
                Ok(Box::new(BytesFile(tx.to_string().into_bytes().into())))
            }
            "block" => {
                let height: u64 = rest
                    .parse()
                    .map_err(|_| format!("{rest:?} is not a block height"))?;
                if height > context.block_height {
                    return Err(format!("block {height} is after the message's block"));
                }
                let block = self
                    .chain
                    .blocks(height, context.timestamp)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|b| b.height == height)
                    .ok_or_else(|| format!("block {height} is unknown"))?;
                let json = json!({"height": block.height, "timestamp": block.timestamp / 1000});
                Ok(Box::new(BytesFile(json.to_string().into_bytes().into())))
            }
            _ => Err(format!("{path} is not a WeaveDrive path")),
        }
    }
}

/// An item's data, read from the weave at each read (never held whole).
struct WeaveFile {
    weave: Arc<dyn Weave>,
    id: Id,
    size: u64,
}

impl DriveFile for WeaveFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        let range = ByteRange {
            start: offset.min(self.size),
            end: Some(offset.saturating_add(len).min(self.size)),
        };
        let mut reader = self
            .weave
            .data(self.id, range)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} is gone from the weave", self.id))?;
        let mut bytes = Vec::with_capacity(usize::try_from(len.min(self.size)).unwrap_or(0));
        reader.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes)
    }
}
