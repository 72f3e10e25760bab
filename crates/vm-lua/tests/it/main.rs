//! aorta-vm-lua against the runtime contract, and its Lua-specific promises.

mod contract;
mod flat;
mod json;
mod llama;
mod native;
mod sandbox;
