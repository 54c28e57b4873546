//! Test support: real services started per test (PostgreSQL database, OpenID provider).
#![allow(dead_code)]
pub mod app;
pub mod failing_store;
pub mod oidc_provider;
pub mod pki;
pub mod postgres;
