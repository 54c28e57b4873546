//! A citizen's own data, all of it (GDPR Art. 15 and 20): every evidence
//! with its values and file, every grant. The export is one access, in the
//! audit log before anything is decrypted (fail closed), naming every
//! evidence it opens.

use super::{EvidenceView, FileReader, Result, Vault, open_evidence};
use crate::audit::{Action, Outcome, Targets};
use crate::ids::CitizenId;
use crate::policy::LoginLevel;
use crate::store::{EvidenceSummary, GrantRecord};

/// Everything the vault holds about one citizen that a person can read.
pub struct MyData {
    /// Each evidence opened, with a reader for its file if it has one.
    pub evidence: Vec<(EvidenceView, Option<FileReader>)>,
    /// Evidence of a type that needs a higher login level than this
    /// session's: listed, not opened.
    pub needs_higher_level: Vec<(EvidenceSummary, LoginLevel)>,
    pub grants: Vec<GrantRecord>,
}

/// The reason of the audit entry of an export.
pub const DATA_EXPORT_REASON: &str = "data_export";

impl Vault {
    /// Open everything of `citizen`'s that `level` may open, after one
    /// audit entry (`evidence_download`, reason `data_export`) naming it.
    pub async fn my_data(&self, citizen: &CitizenId, level: LoginLevel) -> Result<MyData> {
        let summaries = self.store.list_evidence(citizen).await?;
        let (openable, needs_higher_level): (Vec<_>, Vec<_>) = summaries.into_iter().partition(|summary| {
            self.policies.evidence_types.get(&summary.type_id).is_some_and(|t| level >= t.min_login_level)
        });
        let needs_higher_level = needs_higher_level
            .into_iter()
            .map(|summary| {
                let required =
                    self.policies.evidence_types.get(&summary.type_id).map_or(LoginLevel::High, |t| t.min_login_level);
                (summary, required)
            })
            .collect();
        let targets = Targets {
            subject: Some(citizen.to_string()),
            evidence: openable.iter().map(|summary| summary.id.to_string()).collect(),
            ..Targets::default()
        };
        self.record_as_citizen(citizen, Action::EvidenceDownload, targets, Outcome::Success, Some(DATA_EXPORT_REASON))
            .await?;
        let grants = self.store.grants_of_citizen(citizen).await?;
        if openable.is_empty() {
            return Ok(MyData { evidence: Vec::new(), needs_higher_level, grants });
        }
        let dek = self.data_key(citizen).await?;
        let mut evidence = Vec::with_capacity(openable.len());
        for summary in openable {
            // Deleted since the list was read: nothing to export.
            let Some(record) = self.store.evidence(citizen, &summary.id).await? else { continue };
            let Some(evidence_type) = self.policies.evidence_types.get(&record.type_id) else { continue };
            let view = open_evidence(citizen, record, evidence_type, &dek)?;
            let reader = view.file.as_ref().map(|file| self.file_reader(citizen, &dek, file));
            evidence.push((view, reader));
        }
        Ok(MyData { evidence, needs_higher_level, grants })
    }
}
