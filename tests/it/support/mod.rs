//! Test support: real services started per test (PostgreSQL database, OpenID provider).
#![allow(dead_code)]
pub mod app;
pub mod failing_store;
pub mod oidc_provider;
pub mod pki;
pub mod postgres;
pub mod tcp_gate;

/// Runs each `async fn(Backend)` scenario once per backend, as the tests
/// `<module>::sqlite::<name>` and `<module>::postgres::<name>`.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(crate::support::app::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(crate::support::app::Backend::Postgres).await;
                }
            )+
        }
    };
}
