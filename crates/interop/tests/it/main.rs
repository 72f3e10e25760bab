//! aorta against the real JavaScript ao and Arweave libraries.

mod ao_loader;
mod arbundles;
