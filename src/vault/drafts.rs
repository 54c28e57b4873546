//! Form drafts: what a citizen typed into a form whose session had ended,
//! kept so that after logging in again they come back to the form with it.
//! A draft belongs to a browser, not an account (nobody is logged in when
//! it is made): it is found by the SHA-256 of a random token the browser
//! holds in a cookie, sealed with a random key of its own that the KEK
//! wraps (AAD: the lookup hash), taken once, and gone after
//! [`FORM_DRAFT_MINUTES`] (refused when older, swept by the server).
//! Never a file: a browser sends the file again or not at all.

use std::collections::BTreeMap;

use chrono::Duration;
use zeroize::Zeroizing;

use super::{Vault, VaultError, hash_token, random_token};
use crate::crypto::{CryptoError, DataKey};
use crate::store::FormDraftRecord;

/// How long a draft is kept.
pub const FORM_DRAFT_MINUTES: i64 = 30;

/// What was typed into the evidence upload form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormDraft {
    /// The evidence type the form was for.
    pub type_id: String,
    /// A consent page that asked for the document (`/requests/{id}`).
    pub return_to: Option<String>,
    /// The typed values by input name (`born.day`, ...), as typed.
    pub fields: BTreeMap<String, String>,
    /// A file was chosen; it has to be chosen again.
    pub file_dropped: bool,
}

impl Vault {
    /// Keep `draft` sealed for [`FORM_DRAFT_MINUTES`] and return the new
    /// token for the browser's cookie; the draft of `previous` (the
    /// browser's former token) is removed. Every draft gets a fresh token.
    pub async fn keep_form_draft(&self, previous: Option<&str>, draft: &FormDraft) -> Result<String, VaultError> {
        if let Some(previous) = previous {
            self.store.take_form_draft(&hash_token(previous)).await?;
        }
        // Bounded by the upload reader: at most 100 parts and 256 KiB of text.
        let plaintext = Zeroizing::new(encode(draft));
        let token = random_token(&*self.rng)?;
        let id_hash = hash_token(&token);
        let key = DataKey::generate(&*self.rng)?;
        self.refresh_keys();
        let (kek_version, wrapped_key) = self.keys.wrap_draft_key(&id_hash, &key)?;
        let sealed = key.draft_key(&id_hash).seal(&*self.rng, &id_hash, &plaintext)?;
        let record = FormDraftRecord { id_hash, kek_version, wrapped_key, sealed, created_at: self.clock.now() };
        self.store.put_form_draft(&record).await?;
        Ok(token)
    }

    /// The draft of the browser's `token`, once: it is deleted as it is
    /// read. None when there is none, it is older than
    /// [`FORM_DRAFT_MINUTES`], or it does not open (then it is logged).
    pub async fn take_form_draft(&self, token: &str) -> Result<Option<FormDraft>, VaultError> {
        let id_hash = hash_token(token);
        let Some(record) = self.store.take_form_draft(&id_hash).await? else {
            return Ok(None);
        };
        if record.created_at + Duration::minutes(FORM_DRAFT_MINUTES) <= self.clock.now() {
            return Ok(None);
        }
        let opened = self
            .with_current_keys(|keys| keys.unwrap_draft_key(&id_hash, record.kek_version, &record.wrapped_key))
            .and_then(|key| key.draft_key(&id_hash).open(&id_hash, &record.sealed));
        match opened.map(Zeroizing::new) {
            Ok(plaintext) => Ok(decode(&plaintext)),
            Err(error @ CryptoError::Open) => {
                tracing::warn!(%error, "a form draft did not open; dropped");
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Remove drafts past [`FORM_DRAFT_MINUTES`] (the server's sweeper).
    pub async fn sweep_form_drafts(&self) -> Result<u64, VaultError> {
        let before = self.clock.now() - Duration::minutes(FORM_DRAFT_MINUTES);
        Ok(self.store.delete_form_drafts_before(before).await?)
    }
}

/// Version 1: length-prefixed strings: "1", type, return path ("" for
/// none), "0"/"1" for a dropped file, then name and value of each field.
fn encode(draft: &FormDraft) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = vec![
        b"1",
        draft.type_id.as_bytes(),
        draft.return_to.as_deref().unwrap_or("").as_bytes(),
        if draft.file_dropped { b"1" } else { b"0" },
    ];
    for (name, value) in &draft.fields {
        parts.push(name.as_bytes());
        parts.push(value.as_bytes());
    }
    crate::crypto::length_prefixed(&parts)
}

fn decode(bytes: &[u8]) -> Option<FormDraft> {
    let mut parts = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (length, tail) = rest.split_first_chunk::<8>()?;
        let length = usize::try_from(u64::from_be_bytes(*length)).ok()?;
        if length > tail.len() {
            return None;
        }
        let (part, tail) = tail.split_at(length);
        parts.push(std::str::from_utf8(part).ok()?.to_owned());
        rest = tail;
    }
    let mut parts = parts.into_iter();
    if parts.next()? != "1" {
        return None;
    }
    let type_id = parts.next()?;
    let return_to = Some(parts.next()?).filter(|path| !path.is_empty());
    let file_dropped = parts.next()? == "1";
    let mut fields = BTreeMap::new();
    while let Some(name) = parts.next() {
        fields.insert(name, parts.next()?);
    }
    Some(FormDraft { type_id, return_to, fields, file_dropped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_encodes_and_decodes() {
        let draft = FormDraft {
            type_id: "income".to_owned(),
            return_to: Some("/requests/abc".to_owned()),
            fields: [("born.day".to_owned(), "31".to_owned()), ("name".to_owned(), "Müller, \u{1F600}".to_owned())]
                .into_iter()
                .collect(),
            file_dropped: true,
        };
        assert_eq!(decode(&encode(&draft)), Some(draft));
        let empty = FormDraft::default();
        assert_eq!(decode(&encode(&empty)), Some(empty));
        let bytes = encode(&FormDraft { type_id: "x".to_owned(), ..FormDraft::default() });
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "truncated");
        assert_eq!(decode(b"garbage"), None);
    }
}
