//! The Compute Unit end to end: a real SU over a store, the Lua runtime, the CU on top.

mod cron;
mod evaluation;
mod parallel;
mod wasm;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aorta_api::su::{ProcessInner, SchedulePage, Scheduled};
use aorta_api::{Block, Chain, ItemPage, Range, SchedulerApi, Weave};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts};
use aorta_store::MemoryStore;
use aorta_su::{Clock, Scheduler};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};
use aorta_vm_lua::LuaRuntime;

/// Start of test time.
pub const T0: u64 = 1_700_000_000_000;
/// One test block per 2 minutes from T0, starting at height 1000.
pub const BLOCK_MS: u64 = 120_000;

/// A clock the test moves by hand, with blocks every [`BLOCK_MS`] from [`T0`].
#[derive(Default)]
pub struct TestClock(pub AtomicU64);

impl TestClock {
    /// Moves time forward.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    fn height_at(&self, now_ms: u64) -> u64 {
        1000 + now_ms.saturating_sub(T0) / BLOCK_MS
    }
}

impl Chain for TestClock {
    fn blocks(&self, min_height: u64, max_timestamp: u64) -> Result<Vec<Block>, aorta_api::Error> {
        Ok((min_height.max(1000)..)
            .map(|height| Block {
                height,
                timestamp: T0 + (height - 1000) * BLOCK_MS,
            })
            .take_while(|b| b.timestamp <= max_timestamp)
            .collect())
    }
}

/// A probe module: counts `Count` messages (and crons), fails on `Fail` after changing its
/// state, and answers `Echo` with the message and environment it got.
pub const PROBE: &str = r#"
local json = require('json')
local count = 0
function handle(msg, env)
  local action
  for _, t in ipairs(msg.Tags) do if t.name == 'Action' then action = t.value end end
  if action == 'Fail' then count = count + 100; error('failed on purpose') end
  if action == 'Echo' then return { Output = json.encode({ msg = msg, env = env }) } end
  if action == 'BadTags' then
    return { Messages = {
      { Target = msg.From, Tags = { { name = 'Count', value = 5 } } },
      { Target = msg.From, Tags = { { name = 'Fine', value = 'yes' } } },
    } }
  end
  count = count + 1
  return {
    Output = tostring(count),
    Messages = { { Target = msg.From, Data = tostring(count),
                   Tags = { { name = 'Count', value = tostring(count) } } } },
  }
end
"#;

/// An SU, its store and clock, and a CU over them.
pub struct Net {
    /// The SU.
    pub su: Scheduler,
    /// Its weave and schedule store.
    pub store: MemoryStore,
    /// Its clock (and the chain).
    pub clock: Arc<TestClock>,
    /// The CU under test.
    pub cu: ComputeUnit,
    /// The probe module.
    pub probe: Id,
    /// The default (aos) module.
    pub aos: Id,
}

/// A fresh anchor, so that equal items signed by the deterministic Ed25519 get distinct ids.
pub fn anchor() -> [u8; 32] {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut anchor = [b'0'; 32];
    anchor.copy_from_slice(format!("{n:032}").as_bytes());
    anchor
}

/// A user wallet.
pub fn user() -> Ed25519Signer {
    Ed25519Signer::from_seed([1; 32])
}

/// The SU's wallet.
pub fn su_wallet() -> Ed25519Signer {
    Ed25519Signer::from_seed([200; 32])
}

/// Publishes a `lua-5.3` module.
pub fn publish(weave: &dyn Weave, source: &str, extra: &[(&str, &str)]) -> Id {
    let mut module = ModuleBuilder::new(aorta_vm_lua::FORMAT, source);
    for (k, v) in extra {
        module = module.tag(*k, *v);
    }
    let item = module.sign(&user()).expect("signs");
    weave.put(&item).expect("stored").id
}

impl Default for Net {
    fn default() -> Self {
        Self::with(|_| {})
    }
}

impl Net {
    /// A fresh network with the default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh network whose CU configuration `tune` adjusts.
    pub fn with(tune: impl FnOnce(&mut Config)) -> Self {
        let store = MemoryStore::new();
        let clock = Arc::new(TestClock(AtomicU64::new(T0)));
        let su = Scheduler::new(
            Arc::new(su_wallet()),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            clock.clone(),
            aorta_su::Config::default(),
        );
        let probe = publish(&store, PROBE, &[]);
        let aos = publish(&store, &aorta_vm_lua::default_module(), &[]);
        let mut config = Config::default();
        tune(&mut config);
        let cu = Self::cu_over(Arc::new(su.clone()), &store, &clock, config);
        Self {
            su,
            store,
            clock,
            cu,
            probe,
            aos,
        }
    }

    /// Another CU over the same SU and weave, with its own results.
    pub fn cu_over(
        scheduler: Arc<dyn SchedulerApi>,
        store: &MemoryStore,
        clock: &Arc<TestClock>,
        config: Config,
    ) -> ComputeUnit {
        ComputeUnit::new(
            Parts {
                scheduler,
                weave: Arc::new(store.clone()),
                chain: clock.clone(),
                results: Arc::new(MemoryResults::new()),
                runtimes: vec![Arc::new(LuaRuntime::default())],
                checkpoints: None,
            },
            config,
        )
    }

    /// Another CU over this SU and weave, with its own results and the default configuration.
    pub fn fresh_cu(&self) -> ComputeUnit {
        Self::cu_over(
            Arc::new(self.su.clone()),
            &self.store,
            &self.clock,
            Config::default(),
        )
    }

    /// Spawns a process of `module` with extra tags; time moves 1 s.
    pub fn spawn(&self, module: Id, extra: &[(&str, &str)]) -> ProcessId {
        let item = DataItemBuilder::new()
            .tags([
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Process"),
                Tag::new("Module", module.to_string()),
                Tag::new("Scheduler", su_wallet().address().to_string()),
            ])
            .tags(extra.iter().map(|(k, v)| Tag::new(*k, *v)))
            .anchor(anchor())
            .data(b"1984".to_vec())
            .sign(&user())
            .expect("signs");
        ProcessId(self.schedule(item))
    }

    /// Sends a message with `Action` and data to a process; time moves 1 s.
    pub fn send(&self, to: ProcessId, action: &str, data: &str) -> Id {
        self.send_as(&user(), to, &[("Action", action)], data)
    }

    /// Sends a message signed by `signer` with these tags.
    pub fn send_as(
        &self,
        signer: &dyn Signer,
        to: ProcessId,
        tags: &[(&str, &str)],
        data: &str,
    ) -> Id {
        let item = DataItemBuilder::new()
            .target(to.id())
            .tags([
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Message"),
            ])
            .tags(tags.iter().map(|(k, v)| Tag::new(*k, *v)))
            .anchor(anchor())
            .data(data.as_bytes().to_vec())
            .sign(signer)
            .expect("signs");
        self.schedule(item)
    }

    /// Puts `item` on the weave and assigns it to `pid` (`exclude`: spec §3.6); time moves 1 s.
    pub fn assign(&self, pid: ProcessId, item: &DataItem, exclude: Vec<String>) {
        Weave::put(&self.store, item).expect("on the weave");
        self.clock.advance(1000);
        self.su
            .assign(pid, item.id(), exclude, false)
            .expect("assigned")
            .wait()
            .expect("durable");
    }

    fn schedule(&self, item: DataItem) -> Id {
        self.clock.advance(1000);
        let id = item.id();
        self.su
            .schedule(item)
            .expect("admitted")
            .wait()
            .expect("durable");
        id
    }
}

/// Every evaluation of a process, errors and crons included, in key order.
pub fn history(cu: &ComputeUnit, pid: ProcessId) -> Vec<aorta_api::EvaluationRecord> {
    cu.results(
        pid,
        &aorta_api::EvalRange {
            from: None,
            to: None,
            descending: false,
            limit: 10_000,
            cron_only: false,
            skip_errors: false,
        },
    )
    .expect("results")
    .0
}

/// A scheduler that passes reads through, counting pages, except that it can alter one
/// assignment tag. It hands pages over as the stored items only when `items` is set (an
/// alteration applies to the JSON view alone); otherwise in JSON, as an SU over HTTP does.
pub struct Tamper {
    /// The real SU.
    pub inner: Scheduler,
    /// `(nonce, tag name, new value)`.
    pub change: Mutex<Option<(u64, String, String)>>,
    /// Whether pages are also handed over as the stored items.
    pub items: bool,
    /// Pages read as JSON.
    pub json_pages: AtomicUsize,
    /// Pages read as the stored items.
    pub item_pages: AtomicUsize,
}

impl Tamper {
    /// Passes `inner`'s reads through, in JSON, unaltered.
    pub fn new(inner: Scheduler) -> Self {
        Self {
            inner,
            change: Mutex::new(None),
            items: false,
            json_pages: AtomicUsize::new(0),
            item_pages: AtomicUsize::new(0),
        }
    }

    fn alter(&self, node: &mut Scheduled) {
        let change = self.change.lock().expect("lock");
        let Some((nonce, name, value)) = change.as_ref() else {
            return;
        };
        let tags = &mut node.assignment.tags;
        if tags
            .iter()
            .any(|t| t.name == "Nonce" && t.value == nonce.to_string())
        {
            for tag in tags.iter_mut().filter(|t| &t.name == name) {
                tag.value.clone_from(value);
            }
        }
    }
}

impl SchedulerApi for Tamper {
    fn process(&self, process: ProcessId) -> Result<ProcessInner, aorta_api::Error> {
        SchedulerApi::process(&self.inner, process)
    }
    fn page(
        &self,
        process: ProcessId,
        from: Option<u64>,
        to: Option<u64>,
        limit: usize,
    ) -> Result<SchedulePage, aorta_api::Error> {
        self.json_pages.fetch_add(1, Ordering::Relaxed);
        let mut page = SchedulerApi::page(&self.inner, process, from, to, limit)?;
        for edge in &mut page.edges {
            self.alter(&mut edge.node);
        }
        Ok(page)
    }
    fn page_items(
        &self,
        process: ProcessId,
        range: Range,
    ) -> Option<Result<ItemPage, aorta_api::Error>> {
        if !self.items {
            return None;
        }
        self.item_pages.fetch_add(1, Ordering::Relaxed);
        SchedulerApi::page_items(&self.inner, process, range)
    }
    fn message(&self, id: Id, process: ProcessId) -> Result<Scheduled, aorta_api::Error> {
        let mut node = SchedulerApi::message(&self.inner, id, process)?;
        self.alter(&mut node);
        Ok(node)
    }
    fn now(&self) -> Result<(u64, u64), aorta_api::Error> {
        SchedulerApi::now(&self.inner)
    }
}
