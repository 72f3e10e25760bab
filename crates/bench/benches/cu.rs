//! The Compute Unit on the token Transfer workload, in one run.
//!
//! `cargo bench -p aorta-bench --bench cu` (full) or with `AORTA_BENCH_SMOKE=1` (seconds).
//!
//! Token processes on the default module are spawned through a real SU (in-memory store, so the
//! SU's disk is not what is measured) and sent signed Transfers. Then fresh CUs evaluate them
//! from the log: every page read, hash-chain link checked, message shaped, handled and recorded.
//! Side by side: the same messages handed straight to the runtime (the floor the CU adds to),
//! the CU with one evaluating thread, with two, and the cold rebuild of one long process. (Each
//! run also reads pages and makes records on threads of its own.)

use std::sync::Arc;
use std::time::Instant;

use aorta_api::SchedulerApi;
use aorta_bench::{Mode, Row, Table};
use aorta_cu::message::{self, Slot};
use aorta_cu::{ComputeUnit, Config, MemoryResults, Parts};
use aorta_store::MemoryStore;
use aorta_su::{LocalBlocks, Scheduler};
use aorta_types::ao::ModuleBuilder;
use aorta_types::{DataItem, DataItemBuilder, Ed25519Signer, Id, ProcessId, Signer, Tag};
use aorta_vm::{Limits, Message, Outcome, Runtime};
use aorta_vm_lua::{FORMAT, LuaRuntime, default_module};

struct Setup {
    su: Scheduler,
    store: MemoryStore,
    chain: LocalBlocks,
    module: Id,
    alice: Ed25519Signer,
    bob: Ed25519Signer,
    anchor: u64,
}

impl Setup {
    fn new() -> Self {
        let store = MemoryStore::new();
        let chain = LocalBlocks {
            genesis_ms: aorta_su::clock::system_now_ms(),
            start_height: 1_500_000,
        };
        let su = Scheduler::new(
            Arc::new(Ed25519Signer::from_seed([9; 32])),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            Arc::new(chain),
            aorta_su::Config::default(),
        );
        let alice = Ed25519Signer::from_seed([1; 32]);
        let module = ModuleBuilder::new(FORMAT, default_module())
            .sign(&alice)
            .expect("signs");
        let module = aorta_api::Weave::put(&store, &module).expect("stored").id;
        Self {
            su,
            store,
            chain,
            module,
            alice,
            bob: Ed25519Signer::from_seed([2; 32]),
            anchor: 0,
        }
    }

    fn anchor(&mut self) -> [u8; 32] {
        self.anchor += 1;
        let mut a = [0; 32];
        a.copy_from_slice(format!("{:032}", self.anchor).as_bytes());
        a
    }

    fn schedule(&self, item: DataItem) -> Id {
        aorta_bench::schedule(&self.su, item)
    }

    /// A token process where Alice and Bob hold plenty, and `transfers` Transfers between them.
    fn token(&mut self, transfers: usize) -> ProcessId {
        let (a, b) = (self.alice.address(), self.bob.address());
        let boot = format!(
            "require('.blueprints.token') Balances['{a}'] = '1000000000000000000' \
             Balances['{b}'] = '1000000000000000000'"
        );
        let anchor = self.anchor();
        let process = DataItemBuilder::new()
            .tags([
                Tag::new("Data-Protocol", "ao"),
                Tag::new("Variant", "ao.TN.1"),
                Tag::new("Type", "Process"),
                Tag::new("Module", self.module.to_string()),
                Tag::new("Scheduler", self.su.address().to_string()),
                Tag::new("On-Boot", "Data"),
            ])
            .anchor(anchor)
            .data(boot.into_bytes())
            .sign(&self.alice)
            .expect("signs");
        let pid = ProcessId(self.schedule(process));
        for n in 0..transfers {
            let (from, to) = if n % 2 == 0 {
                (self.alice.clone(), b.clone())
            } else {
                (self.bob.clone(), a.clone())
            };
            let anchor = self.anchor();
            let item = DataItemBuilder::new()
                .target(pid.id())
                .anchor(anchor)
                .tags([
                    Tag::new("Data-Protocol", "ao"),
                    Tag::new("Variant", "ao.TN.1"),
                    Tag::new("Type", "Message"),
                    Tag::new("Action", "Transfer"),
                    Tag::new("Recipient", to.to_string()),
                    Tag::new("Quantity", "1000000000000"),
                ])
                .data(Vec::new())
                .sign(&from)
                .expect("signs");
            self.schedule(item);
        }
        pid
    }

    fn cu(&self) -> ComputeUnit {
        ComputeUnit::new(
            Parts {
                scheduler: Arc::new(self.su.clone()),
                weave: Arc::new(self.store.clone()),
                chain: Arc::new(self.chain),
                results: Arc::new(MemoryResults::new()),
                runtimes: vec![Arc::new(LuaRuntime::default())],
                checkpoints: None,
            },
            Config::default(),
        )
    }

    /// The messages of a process exactly as the CU hands them over, and its environment.
    fn raw_inputs(&self, pid: ProcessId) -> Vec<Message> {
        let mut out = Vec::new();
        let mut from = None;
        loop {
            let page = SchedulerApi::page(&self.su, pid, from, None, 1000).expect("page");
            let more = page.page_info.has_next_page;
            for edge in page.edges {
                let slot = Slot::read(pid, &edge.node.assignment).expect("slot");
                let msg = edge.node.message.expect("message");
                out.push(Message::Scheduled(message::scheduled(&msg, &slot, false)));
                from = Some(slot.timestamp);
            }
            if !more {
                return out;
            }
        }
    }
}

/// Evaluates `processes` on `threads` threads of a fresh CU; seconds.
fn evaluate(cu: &ComputeUnit, processes: &[ProcessId], threads: usize) -> f64 {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for pid in processes.iter().skip(t).step_by(threads) {
                    cu.evaluate(*pid).expect("evaluates");
                }
            });
        }
    });
    start.elapsed().as_secs_f64()
}

fn main() {
    let mode = Mode::from_env();
    mode.banner("aorta compute unit bench");
    println!();
    let per_process = mode.count(25_000);
    let long = mode.count(100_000);
    let mut setup = Setup::new();
    let started = Instant::now();
    let processes: Vec<ProcessId> = (0..4).map(|_| setup.token(per_process)).collect();
    let rebuild = setup.token(long);
    eprintln!(
        "scheduled {} transfers in {:.1} s",
        4 * per_process + long,
        started.elapsed().as_secs_f64()
    );
    let messages = (4 * (per_process + 1)) as u64;

    // The floor: the same inputs straight into instances, one thread.
    let env_cu = setup.cu();
    env_cu.evaluate(processes[0]).expect("warm-up");
    let inputs: Vec<_> = processes.iter().map(|p| setup.raw_inputs(*p)).collect();
    // Each process's environment exactly as the CU builds it.
    let module_item = aorta_api::Weave::get(&setup.store, setup.module)
        .expect("read")
        .expect("module");
    let module_view = aorta_types::ao::Module::read(&module_item).expect("module tags");
    let envs: Vec<Arc<serde_json::Value>> = processes
        .iter()
        .map(|pid| {
            let info = SchedulerApi::process(&setup.su, *pid).expect("process");
            Arc::new(message::env(&info, &module_view, module_item.tags()))
        })
        .collect();
    let module = LuaRuntime::default()
        .load(FORMAT, default_module().as_bytes(), Limits::default())
        .expect("module");
    let start = Instant::now();
    let mut raw_gas = 0;
    for (messages, env) in inputs.into_iter().zip(&envs) {
        let mut instance = module.instantiate().expect("instance");
        for m in messages {
            let e = instance.handle_message(m, env).expect("no host failure");
            assert!(matches!(e.outcome, Outcome::Ok(_)), "{:?}", e.outcome);
            raw_gas += e.gas_used;
        }
    }
    let raw = start.elapsed().as_secs_f64();
    let raw_rate = messages as f64 / raw;

    eprintln!("phase: CU on one thread");
    let first = setup.cu();
    let one = evaluate(&first, &processes, 1);
    let cu_gas: u64 = processes
        .iter()
        .flat_map(|pid| {
            first
                .results(
                    *pid,
                    &aorta_api::EvalRange {
                        from: None,
                        to: None,
                        descending: false,
                        limit: usize::MAX,
                        cron_only: false,
                        skip_errors: false,
                    },
                )
                .expect("results")
                .0
        })
        .map(|r| r.result_value()["GasUsed"].as_u64().unwrap_or(0))
        .sum();
    drop(first);
    eprintln!("phase: CU on two threads");
    let two = evaluate(&setup.cu(), &processes, 2);
    let cu = setup.cu();
    let start = Instant::now();
    cu.evaluate(rebuild).expect("rebuild");
    let rebuilt = start.elapsed().as_secs_f64();

    let mut table = Table::default();
    table.print([
        Row {
            case: "runtime alone: the same messages handed straight to instances, 1 thread".into(),
            ops: messages,
            secs: raw,
            fsyncs: None,
            limit: None,
        },
        Row {
            case: "CU from the SU log, 4 token processes, 1 evaluating thread".into(),
            ops: messages,
            secs: one,
            fsyncs: None,
            limit: Some((raw_rate, "runtime alone".into())),
        },
        Row {
            case: "CU from the SU log, 4 token processes, 2 evaluating threads".into(),
            ops: messages,
            secs: two,
            fsyncs: None,
            limit: Some((messages as f64 / one, "CU, 1 evaluating thread".into())),
        },
        Row {
            case: format!("cold rebuild of one process with {long} transfers"),
            ops: long as u64 + 1,
            secs: rebuilt,
            fsyncs: None,
            limit: Some((raw_rate, "runtime alone".into())),
        },
    ]);
    println!();
    println!(
        "VM instructions per message: {} handed straight to the runtime, {} through the CU",
        raw_gas / messages,
        cu_gas / messages
    );
    println!(
        "rebuild of {long} messages: {rebuilt:.1} s; two threads give {:.2}x one thread",
        one / two
    );
    if mode.smoke {
        println!("(smoke mode: figures are not measurements)");
    }
}
