//! aorta-vm-lua against the runtime contract, and its Lua-specific promises.

mod contract;
mod json;
mod llama;
mod native;
mod sandbox;
