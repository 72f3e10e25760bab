//! One module per subcommand.

pub mod blueprint;
pub mod client;
pub mod cu;
pub mod dev;
pub mod model;
pub mod module;
pub mod mu;
pub mod su;
pub mod verify;
pub mod wallet;

use std::sync::Arc;

use aorta_api::{Chain, Weave};
use aorta_vm::Runtime;

/// The runtimes a CU evaluates with: native Lua with WeaveDrive and llama inference (weights
/// copied into `models` to be mapped), and ao's WASM modules with WeaveDrive over `weave` and
/// `chain`.
pub fn runtimes(
    weave: Arc<dyn Weave>,
    chain: Arc<dyn Chain>,
    models: std::path::PathBuf,
) -> Vec<Arc<dyn Runtime>> {
    let drive: Arc<dyn aorta_vm::drive::Drive> =
        Arc::new(aorta_cu::drive::WeaveDrive::new(weave, chain));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let exec = aorta_ai::Exec::new(threads, aorta_ai::Kernel::best())
        .unwrap_or_else(|_| aorta_ai::Exec::single());
    vec![
        Arc::new(
            aorta_vm_lua::LuaRuntime::default()
                .with_drive(Arc::clone(&drive))
                .with_inference(aorta_vm_lua::Inference { models, exec }),
        ),
        Arc::new(aorta_vm_wasm::WasmRuntime::new().with_drive(drive)),
    ]
}

/// Fills the SU's process list (what the explorer lists) on a thread of its own, so a unit
/// starts at once and the explorer's first page is as fast as the rest. A failure is logged;
/// the first listing tries again.
pub fn list_processes_in_background(scheduler: &aorta_su::Scheduler) {
    let scheduler = scheduler.clone();
    std::thread::spawn(move || {
        if let Err(e) = scheduler.load_directory() {
            tracing::warn!(error = %e, "listing the processes for the explorer");
        }
    });
}

/// Draws one frame of a progress bar on stderr: `\r{label}[####    ] 42% {detail}`, for `done`
/// out of `total` (a full bar when `total` is 0).
pub fn draw_bar(label: &str, done: u64, total: u64, detail: &str) {
    use std::io::Write as _;
    let part = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let filled = (part * 30.0) as usize;
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r{label}[{}{}] {:>3.0}% {detail}",
        "#".repeat(filled),
        " ".repeat(30 - filled),
        part * 100.0
    );
    let _ = err.flush();
}
