//! placeholder
pub mod level;
pub use level::LoginLevel;
