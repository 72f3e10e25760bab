//! [`ModuleBuilder`]: a `Type: Module` item (spec §2.2).

use super::{PROTOCOL, VARIANT};
use crate::{DataItem, DataItemBuilder, Error, Signer, Tag};

/// A module to publish: its format and bytes, plus any tags (`Memory-Limit`, `Name`, …).
///
/// Signed without an anchor, so a deterministic signer (Ed25519) gives the same module the same
/// id every time it is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleBuilder {
    format: String,
    data: Vec<u8>,
    tags: Vec<Tag>,
}

impl ModuleBuilder {
    /// A module of `Module-Format` `format` whose item data is `data`.
    pub fn new(format: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            format: format.into(),
            data: data.into(),
            tags: Vec::new(),
        }
    }

    /// Adds a tag after the ao ones.
    pub fn tag(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push(Tag::new(name, value));
        self
    }

    /// The signed item: `Data-Protocol`, `Variant`, `Type: Module`, `Module-Format`,
    /// `Input-Encoding` and `Output-Encoding` (`JSON-1`), then the added tags.
    ///
    /// # Errors
    /// Tag limits, or the signer's failure.
    pub fn sign(self, signer: &dyn Signer) -> Result<DataItem, Error> {
        DataItemBuilder::new()
            .tags([
                Tag::new("Data-Protocol", PROTOCOL),
                Tag::new("Variant", VARIANT),
                Tag::new("Type", "Module"),
                Tag::new("Module-Format", self.format),
                Tag::new("Input-Encoding", "JSON-1"),
                Tag::new("Output-Encoding", "JSON-1"),
            ])
            .tags(self.tags)
            .data(self.data)
            .sign(signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ed25519Signer;
    use crate::ao::Module;

    #[test]
    /// The item reads back as the module it describes, and signing twice gives one id.
    fn builds_a_module_item() {
        let signer = Ed25519Signer::from_seed([3; 32]);
        let build = || {
            ModuleBuilder::new("lua-5.3", b"function handle() end".to_vec())
                .tag("Memory-Limit", "1-gb")
                .sign(&signer)
                .expect("signs")
        };
        let item = build();
        let module = Module::read(&item).expect("a module");
        assert_eq!(module.format, "lua-5.3");
        assert_eq!(module.memory_limit, Some(1 << 30));
        assert_eq!(item.data(), b"function handle() end");
        assert_eq!(build().id(), item.id());
    }
}
