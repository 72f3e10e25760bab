//! A whole node in one process — MU, SU and CU on the embedded store, as `aorta dev` runs
//! them — for the benches that measure what clients see.

use std::sync::Arc;

use aorta_api::Weave as _;
use aorta_cu::{ComputeUnit, MemoryResults};
use aorta_mu::Messenger;
use aorta_store::{Queue, Store};
use aorta_su::{LocalBlocks, Scheduler};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};

/// An item signed by `signer`.
pub fn item(
    signer: &dyn Signer,
    target: Option<Id>,
    tags: &[(&str, &str)],
    data: &str,
) -> DataItem {
    let mut builder = DataItemBuilder::new()
        .anchor(aorta_types::random_anchor().expect("anchor"))
        .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
        .data(data.as_bytes().to_vec());
    if let Some(target) = target {
        builder = builder.target(target);
    }
    builder.sign(signer).expect("signs")
}

/// MU, SU and CU with the default module, the MU pushing with two workers.
pub struct Node {
    /// The MU.
    pub mu: Messenger,
    /// The CU.
    pub cu: ComputeUnit,
    /// The SU.
    pub su: Scheduler,
    /// The default module.
    pub module: Id,
    _dir: tempfile::TempDir,
}

impl Node {
    /// A node whose SU signs with `wallet`.
    pub fn new(wallet: Arc<dyn Signer>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path().join("store")).expect("store"));
        let chain = LocalBlocks {
            genesis_ms: aorta_su::clock::system_now_ms(),
            start_height: 1_500_000,
        };
        let su = Scheduler::new(
            wallet,
            store.clone(),
            store.clone(),
            Arc::new(chain),
            aorta_su::Config::default(),
        );
        let cu = ComputeUnit::new(
            aorta_cu::Parts {
                scheduler: Arc::new(su.clone()),
                weave: store.clone(),
                chain: Arc::new(chain),
                results: Arc::new(MemoryResults::new()),
                runtimes: vec![Arc::new(aorta_vm_lua::LuaRuntime::default())],
                checkpoints: None,
            },
            aorta_cu::Config::default(),
        );
        let mu_wallet = Ed25519Signer::from_seed([5; 32]);
        let module = ModuleBuilder::new(aorta_vm_lua::FORMAT, aorta_vm_lua::default_module())
            .sign(&mu_wallet)
            .expect("signs");
        let module = store.put(&module).expect("module").id;
        let mu = Messenger::new(aorta_mu::Parts {
            wallet: Arc::new(mu_wallet),
            directory: Arc::new(su.clone()),
            compute: Arc::new(cu.clone()),
            weave: store.clone(),
            queue: Arc::new(Queue::open(dir.path().join("queue.redb")).expect("queue")),
        })
        .expect("MU");
        mu.start(2);
        Self {
            mu,
            cu,
            su,
            module,
            _dir: dir,
        }
    }

    /// A process of `user` on the default module.
    pub fn spawn(&self, user: &dyn Signer) -> ProcessId {
        let scheduler = self.su.address().to_string();
        let module = self.module.to_string();
        // The MU's pushes are trusted as aos trusts them: its wallet is an Authority.
        let authority = self.mu.address().to_string();
        let process = item(
            user,
            None,
            &[
                ("Data-Protocol", "ao"),
                ("Variant", "ao.TN.1"),
                ("Type", "Process"),
                ("Module", &module),
                ("Scheduler", &scheduler),
                ("Authority", &authority),
            ],
            "",
        );
        self.mu.ingest(&process).expect("spawned").process
    }

    /// Evaluates `code` in `pid` as its owner `user`, once the CU has done so.
    pub fn eval(&self, user: &dyn Signer, pid: ProcessId, code: &str) {
        let eval = self.send(user, pid, "Eval", code);
        let result = self.cu.result(eval, pid).expect("evaluated");
        assert!(
            result.get("Error").is_none_or(serde_json::Value::is_null),
            "{result}"
        );
    }

    /// A message from `user`; its id once the SU has it.
    pub fn send(&self, user: &dyn Signer, pid: ProcessId, action: &str, data: &str) -> Id {
        self.send_tagged(user, pid, &[("Action", action)], data)
    }

    /// A message from `user` with these tags (besides the ao ones).
    pub fn send_tagged(
        &self,
        user: &dyn Signer,
        pid: ProcessId,
        tags: &[(&str, &str)],
        data: &str,
    ) -> Id {
        let mut all = vec![
            ("Data-Protocol", "ao"),
            ("Variant", "ao.TN.1"),
            ("Type", "Message"),
        ];
        all.extend_from_slice(tags);
        let message = item(user, Some(pid.id()), &all, data);
        self.mu.ingest(&message).expect("accepted").id
    }
}
