//! One module per subcommand.

pub mod client;
pub mod cu;
pub mod dev;
pub mod module;
pub mod mu;
pub mod su;
pub mod verify;
pub mod wallet;

use std::sync::Arc;

use aorta_api::{Chain, Weave};
use aorta_vm::Runtime;

/// The runtimes a CU evaluates with: native Lua, and ao's WASM modules with WeaveDrive over
/// `weave` and `chain`.
pub fn runtimes(weave: Arc<dyn Weave>, chain: Arc<dyn Chain>) -> Vec<Arc<dyn Runtime>> {
    let drive = aorta_cu::drive::WeaveDrive::new(weave, chain);
    vec![
        Arc::new(aorta_vm_lua::LuaRuntime),
        Arc::new(aorta_vm_wasm::WasmRuntime::new().with_drive(Arc::new(drive))),
    ]
}
