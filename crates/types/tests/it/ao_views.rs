//! ao item views read the tags of spec §2 and the SU's builders write them.

use aorta_types::ao::{
    self, AssignmentBuilder, CronInterval, HashChain, ItemType, OnBoot, SchedulerLocationBuilder,
};
use aorta_types::{
    AssignmentId, DataItem, DataItemBuilder, Ed25519Signer, Error, Id, ProcessId, Signer, Tag,
};
use sha2::{Digest, Sha256};

fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed([11; 32])
}

fn item(tags: &[(&str, &str)]) -> DataItem {
    DataItemBuilder::new()
        .tags(tags.iter().map(|(n, v)| Tag::new(*n, *v)))
        .data(b"Data".to_vec())
        .sign(&signer())
        .expect("signs")
}

const MODULE: &str = "ISShJH1ij-hPPt9St5UFFr_8Ys3Kj5cyg7zrMGt7H9s";
const SU: &str = "_GQ33BkPtZrqxA84vM8Zk-N2aO0toNNu_C-l-rawrBA";
const MU: &str = "fcoN_xJeisVsPXA-trzVAuIiqO3ydLQxM-L4XbrQKzY";

#[test]
/// A process item with every optional tag reads into its typed view.
fn process_view() {
    let p = item(&[
        ("Data-Protocol", "ao"),
        ("Variant", "ao.TN.1"),
        ("Type", "Process"),
        ("Module", MODULE),
        ("Scheduler", SU),
        ("Memory-Limit", "1-gb"),
        ("Compute-Limit", "9000000000000"),
        ("Cron-Interval", "5-minutes"),
        ("Cron-Tag-Action", "Tick"),
        ("Authority", MU),
        ("Authority", &format!("{SU}, {MODULE}")),
        ("On-Boot", "Data"),
        ("Name", "alice"),
    ]);
    let view = ao::Process::read(&p).expect("reads");
    assert_eq!(view.id, ProcessId(p.id()));
    assert_eq!(view.module.to_string(), MODULE);
    assert_eq!(view.scheduler.as_str(), SU);
    assert_eq!(view.memory_limit, Some(1 << 30));
    assert_eq!(view.compute_limit, Some(9_000_000_000_000));
    assert_eq!(view.crons.len(), 1);
    assert_eq!(view.crons[0].interval, CronInterval::Seconds(300));
    assert_eq!(view.crons[0].tags, vec![Tag::new("Action", "Tick")]);
    let authorities: Vec<&str> = view.authorities.iter().map(|a| a.as_str()).collect();
    assert_eq!(authorities, [MU, SU, MODULE]);
    assert_eq!(view.on_boot, Some(OnBoot::Data));
    assert_eq!(view.name.as_deref(), Some("alice"));
    assert_eq!(view.owner, signer().address());
}

#[test]
/// Processes without Module or Scheduler, or with bad values, are refused with typed errors.
fn process_required_tags() {
    let base = [("Data-Protocol", "ao"), ("Type", "Process")];
    let no_module = item(&[base[0], base[1], ("Scheduler", SU)]);
    assert!(matches!(
        ao::Process::read(&no_module),
        Err(Error::MissingTag { name: "Module" })
    ));
    let no_scheduler = item(&[base[0], base[1], ("Module", MODULE)]);
    assert!(matches!(
        ao::Process::read(&no_scheduler),
        Err(Error::MissingTag { name: "Scheduler" })
    ));
    let bad_authority = item(&[
        base[0],
        base[1],
        ("Module", MODULE),
        ("Scheduler", SU),
        ("Authority", "nope"),
    ]);
    assert!(matches!(
        ao::Process::read(&bad_authority),
        Err(Error::InvalidTag { .. })
    ));
    let message = item(&[("Data-Protocol", "ao"), ("Type", "Message")]);
    assert!(matches!(
        ao::Process::read(&message),
        Err(Error::WrongType { .. })
    ));
}

#[test]
/// The first Type tag wins, and items without Data-Protocol: ao have no ao type.
fn item_type_rules() {
    let tags = |pairs: &[(&str, &str)]| -> Vec<Tag> {
        pairs.iter().map(|(n, v)| Tag::new(*n, *v)).collect()
    };
    assert_eq!(
        ItemType::of(&tags(&[
            ("Data-Protocol", "ao"),
            ("Type", "Process"),
            ("Type", "Message")
        ])),
        Some(ItemType::Process)
    );
    assert_eq!(
        ItemType::of(&tags(&[("data-protocol", "ao"), ("type", "Message")])),
        Some(ItemType::Message)
    );
    assert_eq!(ItemType::of(&tags(&[("Type", "Process")])), None);
}

#[test]
/// A module item gives its format, encodings, limits and extensions.
fn module_view() {
    let m = item(&[
        ("Data-Protocol", "ao"),
        ("Type", "Module"),
        (
            "Module-Format",
            "wasm64-unknown-emscripten-draft_2024_02_15",
        ),
        ("Input-Encoding", "JSON-1"),
        ("Output-Encoding", "JSON-1"),
        ("Memory-Limit", "16-gb"),
        ("Compute-Limit", "9000000000000"),
        ("Extension", "WeaveDrive"),
    ]);
    let view = ao::Module::read(&m).expect("reads");
    assert_eq!(view.format, "wasm64-unknown-emscripten-draft_2024_02_15");
    assert_eq!(view.memory_limit, Some(16 << 30));
    assert_eq!(view.extensions, ["WeaveDrive"]);
    let missing = item(&[
        ("Data-Protocol", "ao"),
        ("Type", "Module"),
        ("Module-Format", "x"),
    ]);
    assert!(matches!(
        ao::Module::read(&missing),
        Err(Error::MissingTag {
            name: "Input-Encoding"
        })
    ));
}

#[test]
/// From is From-Process when present (and the signer becomes Forwarded-By), else the signer.
fn message_from_rules() {
    let pid = "xkv7fYEuschaihGkBpb4XUSOvBM4scaOBZjfnl8HZx0";
    let direct =
        ao::Message::read(&item(&[("Data-Protocol", "ao"), ("Type", "Message")])).expect("reads");
    assert_eq!(direct.from(), signer().address().to_string());
    assert_eq!(direct.forwarded_by(), None);
    let pushed = ao::Message::read(&item(&[
        ("Data-Protocol", "ao"),
        ("Type", "Message"),
        ("From-Process", pid),
        ("Pushed-For", MODULE),
        ("Action", "Credit-Notice"),
    ]))
    .expect("reads");
    assert_eq!(pushed.from(), pid);
    assert_eq!(pushed.forwarded_by(), Some(&signer().address()));
    assert_eq!(
        pushed.pushed_for.map(|m| m.to_string()).as_deref(),
        Some(MODULE)
    );
    assert_eq!(pushed.action.as_deref(), Some("Credit-Notice"));
}

#[test]
/// Hash-chain links are SHA-256 over raw bytes, previous assignment id first.
fn hash_chain_links() {
    let pid: ProcessId = MODULE.parse().expect("id");
    let seed = HashChain::seed(pid);
    assert_eq!(
        seed.0,
        <[u8; 32]>::from(Sha256::digest(pid.id().as_bytes()))
    );
    let assignment = AssignmentId(Id::from_bytes([4; 32]));
    let mut concat = vec![4u8; 32];
    concat.extend_from_slice(&seed.0);
    let next = HashChain::next(assignment, seed);
    assert_eq!(next.0, <[u8; 32]>::from(Sha256::digest(&concat)));
    assert_eq!(next.to_string().parse::<HashChain>().ok(), Some(next));
}

#[test]
/// An assignment carries the tags of spec §2.6 in order, signs with empty data and no target,
/// and reads back.
fn assignment_build_and_read() {
    let su = signer();
    let message = Id::from_bytes([8; 32]);
    let builder = AssignmentBuilder {
        process: MODULE.parse().expect("pid"),
        epoch: 0,
        nonce: 7,
        hash_chain: HashChain([2; 32]),
        block_height: 1_393_008,
        timestamp: 1_712_345_678_901,
        message: Some(message),
        exclude: vec!["Data".into()],
    };
    let item = builder.sign(&su, [0xAB; 32]).expect("signs");
    let names: Vec<&str> = item.tags().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Process",
            "Epoch",
            "Nonce",
            "Hash-Chain",
            "Block-Height",
            "Timestamp",
            "Data-Protocol",
            "Type",
            "Variant",
            "Message",
            "Exclude"
        ]
    );
    assert_eq!(item.tag("Block-Height"), Some("000001393008"));
    assert_eq!(
        item.tag("Hash-Chain"),
        Some(HashChain([2; 32]).to_string().as_str())
    );
    assert!(item.data().is_empty());
    assert_eq!(item.target(), None);
    assert_eq!(item.anchor(), Some(&[0xAB; 32][..]));
    item.verify().expect("verifies");
    let view = ao::Assignment::read(&item).expect("reads");
    assert_eq!(view.nonce, 7);
    assert_eq!(view.block_height, 1_393_008);
    assert_eq!(view.timestamp, 1_712_345_678_901);
    assert_eq!(view.message, Some(message));
    assert_eq!(view.exclude, ["Data"]);
    assert_eq!(view.scheduler, su.address());
    let own = AssignmentBuilder {
        message: None,
        exclude: vec![],
        ..builder
    };
    let own = own.sign(&su, [0; 32]).expect("signs");
    assert_eq!(own.tag("Message"), None);
    assert_eq!(ao::Assignment::read(&own).expect("reads").message, None);
}

#[test]
/// Scheduler-Location records need Url and Time-To-Live.
fn scheduler_location() {
    let su = signer();
    let record = SchedulerLocationBuilder {
        url: "http://127.0.0.1:9000".into(),
        ttl_ms: 3_600_000,
    }
    .sign(&su)
    .expect("signs");
    let view = ao::SchedulerLocation::read(&record).expect("reads");
    assert_eq!(view.url, "http://127.0.0.1:9000");
    assert_eq!(view.ttl_ms, 3_600_000);
    assert_eq!(view.scheduler, su.address());
    let no_ttl = item(&[
        ("Data-Protocol", "ao"),
        ("Type", "Scheduler-Location"),
        ("Url", "http://x"),
    ]);
    assert!(matches!(
        ao::SchedulerLocation::read(&no_ttl),
        Err(Error::MissingTag {
            name: "Time-To-Live"
        })
    ));
}
