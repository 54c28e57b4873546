//! One integration test binary (keeps link time down). Each module starts
//! what it needs: a fresh SQLite file or PostgreSQL database, the test OpenID
//! provider, the app on port 0.

mod evidence;
mod oidc_provider_smoke;
mod smoke_app;
mod store;
mod support;
