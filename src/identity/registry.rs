//! The configured OpenID providers. Discovery is lazy and retried: the vault
//! starts even when an identity provider is briefly unreachable (and the
//! dev-mode provider is served by this very process, so it cannot be asked
//! before the listener is up).

use std::sync::Arc;

use tokio::sync::RwLock;

use super::oidc::{IssuerSettings, LoginError, RelyingParty};

pub struct IssuerRegistry {
    entries: Vec<Entry>,
    http: reqwest::Client,
}

struct Entry {
    settings: IssuerSettings,
    label: String,
    relying_party: RwLock<Option<Arc<RelyingParty>>>,
}

impl IssuerRegistry {
    pub fn new(issuers: Vec<(IssuerSettings, String)>, http: reqwest::Client) -> Self {
        let entries = issuers
            .into_iter()
            .map(|(settings, label)| Entry { settings, label, relying_party: RwLock::new(None) })
            .collect();
        Self { entries, http }
    }

    /// (name, button label) of every issuer, in configuration order.
    pub fn choices(&self) -> Vec<(String, String)> {
        self.entries.iter().map(|e| (e.settings.name.clone(), e.label.clone())).collect()
    }

    pub fn default_name(&self) -> Option<&str> {
        self.entries.first().map(|e| e.settings.name.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.settings.name == name)
    }

    /// The relying party for `name`, discovering the provider on first use.
    /// None if no such issuer is configured.
    pub async fn get(&self, name: &str) -> Option<Result<Arc<RelyingParty>, LoginError>> {
        let entry = self.entries.iter().find(|e| e.settings.name == name)?;
        if let Some(ready) = entry.relying_party.read().await.as_ref() {
            return Some(Ok(ready.clone()));
        }
        let mut slot = entry.relying_party.write().await;
        if let Some(ready) = slot.as_ref() {
            return Some(Ok(ready.clone()));
        }
        Some(match RelyingParty::discover(entry.settings.clone(), self.http.clone()).await {
            Ok(relying_party) => {
                let relying_party = Arc::new(relying_party);
                *slot = Some(relying_party.clone());
                Ok(relying_party)
            }
            Err(error) => Err(error),
        })
    }
}
