//! Module, Process and Message views.

use super::{Cron, expect_type, parse_compute_limit, parse_memory_limit};
use crate::tag::TagsExt as _;
use crate::{Address, DataItem, Error, Id, MessageId, ModuleId, ProcessId, Tag};

fn required<'a>(tags: &'a [Tag], name: &'static str) -> Result<&'a str, Error> {
    tags.find_tag(name).ok_or(Error::MissingTag { name })
}

fn parse_tag<T: std::str::FromStr>(tags: &[Tag], name: &'static str) -> Result<Option<T>, Error> {
    tags.find_tag(name)
        .map(|value| {
            value.parse().map_err(|_| Error::InvalidTag {
                name: name.into(),
                value: value.to_owned(),
                reason: "not a valid id or address",
            })
        })
        .transpose()
}

fn limits(tags: &[Tag]) -> Result<(Option<u64>, Option<u64>), Error> {
    Ok((
        tags.find_tag("Memory-Limit")
            .map(parse_memory_limit)
            .transpose()?,
        tags.find_tag("Compute-Limit")
            .map(parse_compute_limit)
            .transpose()?,
    ))
}

/// A `Type: Module` item (spec §2.2): the data is the module (WASM, or Lua for `lua-5.3`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Module {
    /// The module id.
    pub id: ModuleId,
    /// Who published it.
    pub owner: Address,
    /// `Module-Format`: picks the runtime.
    pub format: String,
    /// `Input-Encoding`.
    pub input_encoding: String,
    /// `Output-Encoding`.
    pub output_encoding: String,
    /// `Memory-Limit` in bytes, when the module sets one.
    pub memory_limit: Option<u64>,
    /// `Compute-Limit`, when the module sets one.
    pub compute_limit: Option<u64>,
    /// `Extension` tags, in order.
    pub extensions: Vec<String>,
    /// `Availability-Type` (WeaveDrive's default mode).
    pub availability_type: Option<String>,
}

impl Module {
    /// Reads the module tags of an item.
    ///
    /// # Errors
    /// [`Error::WrongType`], [`Error::MissingTag`] for `Module-Format`, `Input-Encoding` or
    /// `Output-Encoding`, [`Error::InvalidTag`] for unreadable limits.
    pub fn read<B: AsRef<[u8]>>(item: &DataItem<B>) -> Result<Self, Error> {
        let tags = item.tags();
        expect_type(tags, "Module")?;
        let (memory_limit, compute_limit) = limits(tags)?;
        Ok(Self {
            id: item.id().into(),
            owner: item.address(),
            format: required(tags, "Module-Format")?.to_owned(),
            input_encoding: required(tags, "Input-Encoding")?.to_owned(),
            output_encoding: required(tags, "Output-Encoding")?.to_owned(),
            memory_limit,
            compute_limit,
            extensions: tags.find_tags("Extension").map(str::to_owned).collect(),
            availability_type: tags.find_tag("Availability-Type").map(str::to_owned),
        })
    }
}

/// What `On-Boot` asks the process to evaluate when it starts.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OnBoot {
    /// `On-Boot: Data`: the process item's own data.
    Data,
    /// `On-Boot: <tx id>`: the data of that item on the weave.
    Item(Id),
}

/// A `Type: Process` item (spec §2.3).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Process {
    /// The process id (the item id).
    pub id: ProcessId,
    /// Who spawned it (ao address form).
    pub owner: Address,
    /// `Module`: the module it runs.
    pub module: ModuleId,
    /// `Scheduler`: the SU wallet address responsible for it.
    pub scheduler: Address,
    /// `Memory-Limit` override, in bytes.
    pub memory_limit: Option<u64>,
    /// `Compute-Limit` override.
    pub compute_limit: Option<u64>,
    /// Crons in tag order.
    pub crons: Vec<Cron>,
    /// `Authority` addresses, from every `Authority` tag, comma lists split, in order.
    pub authorities: Vec<Address>,
    /// `On-Boot`.
    pub on_boot: Option<OnBoot>,
    /// `Name`.
    pub name: Option<String>,
    /// `Variant`.
    pub variant: Option<String>,
    /// `Extension` tags.
    pub extensions: Vec<String>,
    /// `From-Process`: set by an MU when a process spawned this one.
    pub from_process: Option<ProcessId>,
    /// The item's target: an MU assigns the new process to it (spec §4.5).
    pub target: Option<Id>,
}

impl Process {
    /// Reads the process tags of an item.
    ///
    /// # Errors
    /// [`Error::WrongType`], [`Error::MissingTag`] for `Module` or `Scheduler`,
    /// [`Error::InvalidTag`] for unreadable ids, addresses, limits, crons or `On-Boot`.
    pub fn read<B: AsRef<[u8]>>(item: &DataItem<B>) -> Result<Self, Error> {
        let tags = item.tags();
        expect_type(tags, "Process")?;
        required(tags, "Module")?;
        required(tags, "Scheduler")?;
        let (memory_limit, compute_limit) = limits(tags)?;
        let authorities = tags
            .find_tags("Authority")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.parse().map_err(|_| Error::InvalidTag {
                    name: "Authority".into(),
                    value: a.to_owned(),
                    reason: "not an address",
                })
            })
            .collect::<Result<_, _>>()?;
        let on_boot = match tags.find_tag("On-Boot") {
            None => None,
            Some("Data") => Some(OnBoot::Data),
            Some(id) => Some(OnBoot::Item(id.parse().map_err(|_| Error::InvalidTag {
                name: "On-Boot".into(),
                value: id.to_owned(),
                reason: "neither \"Data\" nor an item id",
            })?)),
        };
        Ok(Self {
            id: item.id().into(),
            owner: item.address(),
            module: parse_tag(tags, "Module")?.ok_or(Error::MissingTag { name: "Module" })?,
            scheduler: parse_tag(tags, "Scheduler")?
                .ok_or(Error::MissingTag { name: "Scheduler" })?,
            memory_limit,
            compute_limit,
            crons: Cron::read_all(tags)?,
            authorities,
            on_boot,
            name: tags.find_tag("Name").map(str::to_owned),
            variant: tags.find_tag("Variant").map(str::to_owned),
            extensions: tags.find_tags("Extension").map(str::to_owned).collect(),
            from_process: parse_tag(tags, "From-Process")?,
            target: item.target(),
        })
    }
}

/// A `Type: Message` item (spec §2.4).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// The message id.
    pub id: MessageId,
    /// The signer's address (ao form).
    pub owner: Address,
    /// The target process.
    pub target: Option<ProcessId>,
    /// `From-Process`: the process whose outbox this came from (set by an MU).
    pub from_process: Option<ProcessId>,
    /// `From-Module`: that process's module.
    pub from_module: Option<ModuleId>,
    /// `Pushed-For`: the user message whose evaluation produced this one.
    pub pushed_for: Option<MessageId>,
    /// `Action`.
    pub action: Option<String>,
}

impl Message {
    /// Reads the message tags of an item.
    ///
    /// # Errors
    /// [`Error::WrongType`], or [`Error::InvalidTag`] when `From-Process`, `From-Module` or
    /// `Pushed-For` is not an id.
    pub fn read<B: AsRef<[u8]>>(item: &DataItem<B>) -> Result<Self, Error> {
        let tags = item.tags();
        expect_type(tags, "Message")?;
        Ok(Self {
            id: item.id().into(),
            owner: item.address(),
            target: item.target().map(ProcessId),
            from_process: parse_tag(tags, "From-Process")?,
            from_module: parse_tag(tags, "From-Module")?,
            pushed_for: parse_tag(tags, "Pushed-For")?,
            action: tags.find_tag("Action").map(str::to_owned),
        })
    }

    /// `From` as the CU computes it: `From-Process` if present, else the signer. Whether to
    /// believe `From-Process` is the process's decision (its `Authority` list), not ours.
    pub fn from(&self) -> String {
        match &self.from_process {
            Some(pid) => pid.to_string(),
            None => self.owner.to_string(),
        }
    }

    /// `Forwarded-By`: the signer, when the message claims to come from a process.
    pub fn forwarded_by(&self) -> Option<&Address> {
        self.from_process.as_ref().map(|_| &self.owner)
    }
}
