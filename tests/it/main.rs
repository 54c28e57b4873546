//! One integration test binary (keeps link time down). Each module starts
//! what it needs: a fresh SQLite file or PostgreSQL database, the test OpenID
//! provider, the app on port 0.

// A failed unwrap in a test is a failed test with a backtrace: fine here.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

mod audit_flow;
mod audit_store;
mod audit_verify;
mod backup;
mod browser;
mod catalogue;
mod config_reference;
mod connections;
mod consent;
mod dept_api;
mod dept_tls;
mod dev_mode;
mod display;
mod dpo;
mod errors;
mod evidence;
mod health;
mod independent_tlog;
mod info_pages;
mod layers;
mod log_privacy;
mod login;
mod metrics;
mod oidc_provider_smoke;
mod openapi;
mod outage;
mod pkcs11_keys;
mod production_start;
mod rate_limits;
mod security_headers;
mod smoke_app;
mod store;
mod upload_limits;
mod witness;
