//! aorta-vm-lua against the runtime contract, and its Lua-specific promises.

mod aos;
mod contract;
mod json;
mod sandbox;
mod token;
