//! tresor: a data-minimising evidence vault for city administrations.
//!
//! The crate is one library plus the `tresor` binary (`src/main.rs`). See
//! ARCHITECTURE.md for the code map and the invariants each module keeps.

pub mod audit;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod http;
pub mod identity;
pub mod ids;
pub mod policy;
pub mod server;
pub mod store;
pub mod vault;
