//! tresor: a data-minimising evidence vault for city administrations.
//!
//! The crate is one library plus the `tresor` binary (`src/main.rs`). See
//! ARCHITECTURE.md for the code map and the invariants each module keeps.

pub mod audit;
pub mod backup;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod health;
pub mod http;
pub mod identity;
pub mod ids;
pub mod metrics;
pub mod policy;
pub mod server;
pub mod store;
pub mod text;
pub mod vault;
pub mod witness;

/// jemalloc instead of glibc's malloc for the whole process (server, tests,
/// benches alike): a release allocates and frees many small objects on
/// several threads, where glibc spent ~17 % of the CPU (fastbin
/// consolidation, frees across arenas). Measured in the README
/// ("Department releases"); the upload benchmark's RSS bound still holds.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
