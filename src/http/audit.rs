//! The audit log for its audiences: the latest signed checkpoint (public)
//! and, for a logged-in citizen, every entry about them, newest first a page
//! at a time, each as the exact stored bytes (so that anyone can recompute
//! its leaf hash) with an inclusion proof against that checkpoint.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::i18n::{self, Msg, t};
use super::openapi::tags;
use super::pages;
use super::session::CitizenSession;
use super::web::Page;
use crate::audit::checkpoint::open_signed;
use crate::audit::merkle::{Hash, verify_inclusion};
use crate::audit::service::{Covering, SignedCheckpoint};
use crate::audit::tiles::Tile;
use crate::audit::{Actor, AuditEntry, Outcome};
use crate::ids::GrantId;
use crate::policy::{Lang, Policies};
use crate::store::StoredAuditEntry;

/// Entries per page of the citizen's log unless `limit` says otherwise.
const CITIZEN_PAGE_DEFAULT: u32 = 100;
/// The largest `limit` a citizen may ask for.
const CITIZEN_PAGE_MAX: u32 = 1000;

/// The latest signed checkpoint of the audit log.
#[derive(Serialize, ToSchema)]
pub struct CheckpointBody {
    /// The C2SP signed note (origin, size, base64 root, signature).
    checkpoint: Option<String>,
    size: u64,
    /// `name+keyid+base64(0x01||pubkey)`, for any signed-note verifier.
    verifier_key: String,
}

/// `GET /api/v1/audit/checkpoint`: the latest signed checkpoint.
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = tags::PUBLIC,
    responses((status = 200, description = "The latest checkpoint (null before the first).", body = CheckpointBody)))]
pub async fn checkpoint(State(app): State<AppState>) -> ApiResult<Json<CheckpointBody>> {
    let audit = app.vault.audit();
    let latest = audit.latest_checkpoint().await?;
    Ok(Json(CheckpointBody {
        size: latest.as_ref().map_or(0, |c| c.size),
        checkpoint: latest.map(|c| c.note),
        verifier_key: audit.verifier_key(),
    }))
}

/// An entry about the citizen, with its inclusion proof.
#[derive(Serialize, ToSchema)]
pub struct MyAccessEntry {
    sequence: i64,
    /// The exact bytes stored and hashed (UTF-8 JSON): SHA-256(0x00 ‖ body)
    /// is `leaf_hash`. Null once retention pruned it.
    body: Option<String>,
    /// The same entry parsed, for reading; its key order is not the hashed one.
    /// Null once retention pruned it.
    #[schema(value_type = Option<Object>)]
    entry: serde_json::Value,
    leaf_hash: String,
    /// Sibling hashes (hex, RFC 9162 order) from the leaf to the checkpoint
    /// root; null while the entry is newer than the latest checkpoint.
    inclusion_proof: Option<Vec<String>>,
}

/// A page of the citizen's access log.
#[derive(Serialize, ToSchema)]
pub struct MyAccessLog {
    checkpoint: Option<String>,
    checkpoint_size: u64,
    verifier_key: String,
    /// Newest first.
    entries: Vec<MyAccessEntry>,
    /// Pass as `before` for the next page of older entries; null on the last
    /// page.
    next_before: Option<u64>,
    /// Set when an entry on this page is newer than every checkpoint (its
    /// `inclusion_proof` is null): ask again after this many seconds and a
    /// checkpoint covering it will have been signed.
    retry_after_seconds: Option<u64>,
}

/// `?before=N&limit=L` on the citizen's log (page and JSON).
#[derive(serde::Deserialize)]
pub struct LogPageQuery {
    before: Option<String>,
    limit: Option<String>,
}

/// A page of the citizen's log: entries older than `before` (all when
/// None), at most `limit`, newest first.
struct LogPage {
    before: Option<u64>,
    limit: u32,
}

impl LogPageQuery {
    fn parse(&self) -> ApiResult<LogPage> {
        let before = match self.before.as_deref() {
            None | Some("") => None,
            Some(value) => Some(value.parse::<u64>().map_err(|_| ApiError::from(ErrorCode::InvalidCursor))?),
        };
        let limit = match self.limit.as_deref() {
            None | Some("") => CITIZEN_PAGE_DEFAULT,
            Some(value) => value
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=CITIZEN_PAGE_MAX).contains(limit))
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidLimit).with_arg("max", CITIZEN_PAGE_MAX))?,
        };
        Ok(LogPage { before, limit })
    }
}

#[derive(serde::Deserialize)]
pub struct ConsistencyQuery {
    old: Option<String>,
    new: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsistencyBody {
    old_size: u64,
    new_size: u64,
    /// RFC 9162 §2.1.4 consistency proof (hex), from `old_size` to `new_size`.
    proof: Vec<String>,
}

/// `GET /api/v1/audit/log/checkpoint`: the latest checkpoint as the C2SP
/// tlog-tiles `checkpoint` file (the signed note, `text/plain`).
#[utoipa::path(get, path = "/api/v1/audit/log/checkpoint", tag = tags::PUBLIC,
    responses((status = 200, description = "The C2SP signed note.", content_type = "text/plain", body = String)))]
pub async fn tlog_checkpoint(State(app): State<AppState>) -> ApiResult<Response> {
    let Some(latest) = app.vault.audit().latest_checkpoint().await? else {
        return Err(ErrorCode::NoCheckpoint.into());
    };
    let mut response = Response::new(axum::body::Body::from(latest.note));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `GET /api/v1/audit/log/tile/<L>/<N>[.p/<W>]`: a C2SP tlog-tiles hash
/// tile of the tree of the latest checkpoint. Tiles never change, so they
/// are served as immutable. Paths that are not canonical, tiles the tree
/// does not have (yet) and entry bundles (which name citizens) are 404.
#[utoipa::path(get, path = "/api/v1/audit/log/tile/{path}", tag = tags::PUBLIC,
    params(("path" = String, Path,
        description = "`<L>/<N>` or `<L>/<N>.p/<W>` as C2SP tlog-tiles writes them (N in `x001/234` form).")),
    responses((status = 200, description = "The hash tile (32-byte hashes), immutable.",
        content_type = "application/octet-stream", body = Vec<u8>)))]
pub async fn tlog_tile(State(app): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let tile = Tile::parse(&path).ok_or_else(ApiError::not_found)?;
    let audit = app.vault.audit();
    // The size this process knows serves most requests; only a tile beyond
    // it asks the store for the newest checkpoint.
    let mut size = audit.newest_signed_size();
    if !tile.exists_in(size) {
        size = audit.latest_checkpoint().await?.map_or(0, |checkpoint| checkpoint.size);
    }
    if !tile.exists_in(size) {
        return Err(ApiError::not_found());
    }
    let mut response = Response::new(axum::body::Body::from(audit.tile(&tile, size).await?));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    Ok(response)
}

/// `GET /api/v1/audit/consistency?old=M[&new=N]`: proof that the tree of
/// size N (default: the latest checkpoint) extends the tree of size M, so a
/// checkpoint saved earlier can be checked against a newer one.
#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = tags::PUBLIC,
    params(("old" = u64, Query, description = "The older tree size."),
        ("new" = Option<u64>, Query, description = "The newer tree size (default: the latest checkpoint's).")),
    responses((status = 200, description = "The consistency proof.", body = ConsistencyBody)))]
pub async fn consistency(
    State(app): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyBody>> {
    let tree_size = |problem: &str| ApiError::new(ErrorCode::InvalidTreeSize).with_arg("problem", problem);
    let parse = |name: &str, value: &str| {
        value
            .parse::<u64>()
            .map_err(|_| tree_size("not-a-number").with_detail(format!("`{name}` must be a whole number of entries.")))
    };
    let old_size = match query.old.as_deref() {
        Some(value) => parse("old", value)?,
        None => return Err(tree_size("missing")),
    };
    let new_size = match query.new.as_deref() {
        Some(value) => parse("new", value)?,
        None => app.vault.audit().latest_checkpoint().await?.map_or(0, |c| c.size),
    };
    let log_size = app.vault.audit_size().await?;
    if old_size > new_size || new_size > log_size {
        return Err(tree_size("order").with_arg("size", log_size));
    }
    let proof = app.vault.audit().consistency_proof(old_size, new_size).await?.map_err(|_| tree_size("no-proof"))?;
    Ok(Json(ConsistencyBody { old_size, new_size, proof: proof.iter().map(hex::encode).collect() }))
}

/// A page of the entries about one citizen, newest first, with their
/// inclusion proofs against the latest checkpoint.
struct CitizenLog {
    checkpoint: Option<SignedCheckpoint>,
    entries: Vec<(StoredAuditEntry, Option<Vec<Hash>>)>,
    /// The `before` of the next page of older entries, if there is one.
    next_before: Option<u64>,
    /// When entries on the page have no proof yet: when to ask again.
    retry_after: Option<std::time::Duration>,
}

async fn load_citizen_log(app: &AppState, citizen: &CitizenSession, page: &LogPage) -> ApiResult<CitizenLog> {
    let audit = app.vault.audit();
    // One more than shown: whether an older page exists.
    let mut stored = app.vault.citizen_log(citizen.citizen(), page.limit + 1, page.before).await?;
    let more = stored.len() > page.limit as usize;
    stored.truncate(page.limit as usize);
    let next_before = more.then(|| stored.last().and_then(|last| u64::try_from(last.sequence).ok())).flatten();
    let sequences: Vec<u64> = stored.iter().map(|e| u64::try_from(e.sequence).unwrap_or(u64::MAX)).collect();
    // A checkpoint that covers the newest entry shown, signed now if need be
    // (at most one such per second).
    let (checkpoint, retry_after) = match sequences.iter().max() {
        None => (audit.latest_checkpoint().await?, None),
        Some(&newest) => match audit.checkpoint_covering(newest).await? {
            Covering::Covered(checkpoint) => (Some(checkpoint), None),
            Covering::Pending { newest, retry_after } => (newest, Some(retry_after)),
        },
    };
    let size = checkpoint.as_ref().map_or(0, |c| c.size);
    let proofs = if size > 0 { audit.inclusion_proofs(size, &sequences).await? } else { vec![None; sequences.len()] };
    Ok(CitizenLog { checkpoint, entries: stored.into_iter().zip(proofs).collect(), next_before, retry_after })
}

/// `GET /api/v1/audit/mine[?before=N][&limit=L]`: the entries about the
/// logged-in citizen, newest first, with inclusion proofs.
#[utoipa::path(get, path = "/api/v1/audit/mine", tag = tags::CITIZEN,
    security(("session_cookie" = [])),
    params(("before" = Option<u64>, Query, description = "Entries older than this sequence number (`next_before`)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Entries per page (default 100).")),
    responses((status = 200, description = "A page of entries, newest first.", body = MyAccessLog)))]
pub async fn my_access_log(
    State(app): State<AppState>,
    citizen: CitizenSession,
    Query(query): Query<LogPageQuery>,
) -> ApiResult<Json<MyAccessLog>> {
    let page = query.parse()?;
    Ok(Json(my_access_log_page(&app, &citizen, &page).await?))
}

/// The whole of a citizen's log, as the pages `GET /api/v1/audit/mine`
/// serves one after the other (newest first, each with its checkpoint and
/// proofs), for the data export.
pub(super) async fn whole_citizen_log(app: &AppState, citizen: &CitizenSession) -> ApiResult<Vec<MyAccessLog>> {
    let mut pages = Vec::new();
    let mut page = LogPage { before: None, limit: CITIZEN_PAGE_MAX };
    loop {
        let served = my_access_log_page(app, citizen, &page).await?;
        let next = served.next_before;
        pages.push(served);
        match next {
            Some(before) => page.before = Some(before),
            None => return Ok(pages),
        }
    }
}

async fn my_access_log_page(app: &AppState, citizen: &CitizenSession, page: &LogPage) -> ApiResult<MyAccessLog> {
    let audit = app.vault.audit();
    let CitizenLog { checkpoint: latest, entries, next_before, retry_after } =
        load_citizen_log(app, citizen, page).await?;
    let size = latest.as_ref().map_or(0, |c| c.size);
    let entries = entries
        .into_iter()
        .map(|(entry, proof)| MyAccessEntry {
            sequence: entry.sequence,
            // Bodies are UTF-8 JSON by construction; a body that is not
            // (a damaged row) is served as null rather than altered.
            body: entry.body.as_deref().and_then(|body| std::str::from_utf8(body).ok()).map(str::to_owned),
            entry: entry
                .body
                .as_deref()
                .and_then(|body| serde_json::from_slice(body).ok())
                .unwrap_or(serde_json::Value::Null),
            leaf_hash: hex::encode(&entry.leaf_hash),
            inclusion_proof: proof.map(|hashes| hashes.iter().map(hex::encode).collect()),
        })
        .collect();
    Ok(MyAccessLog {
        checkpoint_size: size,
        checkpoint: latest.map(|c| c.note),
        verifier_key: audit.verifier_key(),
        entries,
        next_before,
        // Whole seconds, rounded up.
        retry_after_seconds: retry_after.map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
    })
}

/// The citizen's access log as a page: every entry in plain words, each
/// proof checked against the signed checkpoint (the JSON lets anyone check
/// the same independently).
pub async fn access_log_page(State(app): State<AppState>, page: Page, Query(query): Query<LogPageQuery>) -> Response {
    let result = async {
        let citizen = page.session.as_ref().ok_or_else(ApiError::not_logged_in)?;
        let log_page = query.parse()?;
        let log = load_citizen_log(&app, citizen, &log_page).await?;
        let lang = page.lang();
        let me = citizen.citizen().to_string();
        let public_key = app.vault.signing_public_key();
        let opened =
            log.checkpoint.as_ref().and_then(|c| open_signed(&c.note, app.vault.audit().origin(), &public_key).ok());
        // The case references of the approvals the entries name (one read of
        // the citizen's grants, one per approval named).
        let mut grants: Vec<GrantId> = log
            .entries
            .iter()
            .filter_map(|(stored, _)| AuditEntry::from_stored(stored)?.ok()?.event.targets.grant?.parse().ok())
            .collect();
        grants.sort_unstable_by(|a: &GrantId, b| a.as_str().cmp(b.as_str()));
        grants.dedup();
        let references = app.vault.grant_references(citizen.citizen(), &grants).await?;
        let items: Vec<pages::AccessLogItem> = log
            .entries
            .iter()
            .filter_map(|(stored, proof)| {
                let entry = AuditEntry::from_stored(stored)?.ok()?;
                let proof_ok = match (proof, &opened) {
                    (Some(proof), Some(checkpoint)) => Some(
                        verify_inclusion(&entry.leaf_hash(), entry.sequence, checkpoint.size, proof, &checkpoint.root)
                            .is_ok(),
                    ),
                    _ => None,
                };
                let policies = app.vault.policies();
                let targets = &entry.event.targets;
                let by_others = !matches!(&entry.event.actor, Actor::Citizen(id) if *id == me);
                Some(pages::AccessLogItem {
                    sequence: entry.sequence,
                    time: entry.time,
                    who: actor_label(policies, lang, &entry.event.actor, &me),
                    what: t(lang, i18n::action_message(entry.event.action)).to_owned(),
                    by_others,
                    service: targets.service.as_deref().map(|service| policies.service_name(service, lang)),
                    fields: targets.fields.iter().map(|field| policies.field_label(field, lang)).collect(),
                    grant_use: targets.grant_use,
                    under_grant: targets.grant.is_some(),
                    reference: targets
                        .grant
                        .as_deref()
                        .and_then(|grant| grant.parse::<GrantId>().ok())
                        .and_then(|grant| references.get(&grant).cloned()),
                    result: t(
                        lang,
                        match entry.event.outcome {
                            Outcome::Success => Msg::OutcomeSuccess,
                            Outcome::Refused => Msg::OutcomeRefused,
                            Outcome::Failed => Msg::OutcomeFailed,
                        },
                    )
                    .to_owned(),
                    proof_ok,
                })
            })
            .collect();
        let size = opened.map_or(0, |c| c.size);
        let older = log.next_before.map(|before| match log_page.limit {
            CITIZEN_PAGE_DEFAULT => format!("/access-log?before={before}"),
            limit => format!("/access-log?before={before}&limit={limit}"),
        });
        let markup = pages::access_log_page(&page.ctx, &items, size, older.as_deref());
        Ok::<_, ApiError>(page.respond(&app, StatusCode::OK, markup))
    }
    .await;
    result.unwrap_or_else(|error| page.error(&app, error))
}

/// Who acted, in words: departments by their name from the policy.
fn actor_label(policies: &Policies, lang: Lang, actor: &Actor, me: &str) -> String {
    match actor {
        Actor::Citizen(id) if id == me => t(lang, Msg::ActorYou).to_owned(),
        Actor::Citizen(_) => t(lang, Msg::ActionOther).to_owned(),
        Actor::Department(department) => policies.department_name(department, lang),
        Actor::Staff(_) => t(lang, Msg::ActorStaff).to_owned(),
        Actor::System => t(lang, Msg::ActorSystem).to_owned(),
    }
}
