//! Test support: real services started per test (PostgreSQL database, OpenID provider).
#![allow(dead_code)]
pub mod app;
pub mod failing_store;
pub mod oidc_provider;
pub mod pki;
pub mod postgres;
pub mod softhsm;
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

/// `on_both_backends!` plus each scenario once more on SQLite with the
/// vault's keys in a fresh SoftHSM2 token (the PKCS#11 key provider), as
/// `<module>::pkcs11::<name>`. The test fails if the scenario started no
/// app with token keys (so a scenario that builds its keys some other way
/// cannot pass here by accident).
macro_rules! on_both_backends_and_pkcs11 {
    ($($scenario:ident),+ $(,)?) => {
        on_both_backends!($($scenario),+);
        mod pkcs11 {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let started = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
                    crate::support::app::KEYS_IN_TOKEN
                        .scope(started.clone(), super::$scenario(crate::support::app::Backend::Sqlite))
                        .await;
                    assert!(
                        started.load(std::sync::atomic::Ordering::SeqCst) > 0,
                        "the scenario started no app with its keys in the token"
                    );
                }
            )+
        }
    };
}
