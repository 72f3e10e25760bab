//! Integration tests of `aorta-store`, one module per area (CONVENTIONS item 13).

mod concurrency;
mod contract;
mod crash;
mod faults;
mod model;
mod recovery;
mod util;
