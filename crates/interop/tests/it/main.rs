//! aorta against the real JavaScript ao and Arweave libraries.

mod arbundles;
