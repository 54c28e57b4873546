//! The DPO's queries: filters, the query page and JSON, exports, statistics.

use super::*;
use crate::http::i18n::Msg;
use crate::policy::{Lang, Policies};

/// A parsed DPO request: the store filter, paging, and the raw values for
/// showing the form again.
#[derive(Debug, Default)]
struct DpoRequest {
    filter: AuditFilter,
    /// Oldest first from here (`after`), when asked for; newest first
    /// otherwise (older than `before`, if given).
    after: Option<u64>,
    before: Option<u64>,
    limit: Option<u32>,
    lang: Option<String>,
    values: pages::DpoFilterValues,
}

/// A filter value that was refused: which parameter, and why.
#[derive(Debug)]
struct FilterError {
    parameter: &'static str,
    problem: FilterProblem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterProblem {
    UnknownParameter,
    Repeated,
    RefusedText,
    NotATime,
    UnknownAction,
    UnknownOutcome,
    NotAnIdentifier,
    NotACitizen,
    NotASequence,
    LimitOutOfRange,
    ToBeforeFrom,
    AfterAndBefore,
    UnknownPeriod,
}

impl FilterProblem {
    /// The variant of `error-invalid-filter` that words it.
    fn key(self) -> &'static str {
        match self {
            Self::UnknownParameter => "unknown-parameter",
            Self::Repeated => "repeated",
            Self::RefusedText => "refused-text",
            Self::NotATime => "not-a-time",
            Self::UnknownAction => "unknown-action",
            Self::UnknownOutcome => "unknown-outcome",
            Self::NotAnIdentifier => "not-an-identifier",
            Self::NotACitizen => "not-a-citizen",
            Self::NotASequence => "not-a-sequence",
            Self::LimitOutOfRange => "limit-out-of-range",
            Self::ToBeforeFrom => "to-before-from",
            Self::AfterAndBefore => "after-and-before",
            Self::UnknownPeriod => "unknown-period",
        }
    }
}

impl From<FilterError> for ApiError {
    fn from(error: FilterError) -> Self {
        ApiError::new(ErrorCode::InvalidFilter)
            .with_arg("problem", error.problem.key())
            .with_detail(format!("The filter `{}` is not valid.", error.parameter))
    }
}

/// `lang`, `text` and `contrast` are the page's own switches (language and
/// display), not filters.
const FILTER_PARAMETERS: [&str; 13] = [
    "from",
    "to",
    "action",
    "outcome",
    "department",
    "service",
    "citizen",
    "after",
    "before",
    "limit",
    "lang",
    "text",
    "contrast",
];

/// The JSON API's query: as the page's, but the page's display switches
/// (`text`, `contrast`) mean nothing to a program and are refused as
/// unknown, rather than silently ignored.
fn parse_api_request(raw: Option<&str>) -> Result<DpoRequest, FilterError> {
    let display_switch = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .any(|(key, _)| matches!(key.as_ref(), "text" | "contrast"));
    if display_switch {
        return Err(FilterError { parameter: "query", problem: FilterProblem::UnknownParameter });
    }
    parse_dpo_request(raw)
}

/// Parse the query string strictly: unknown or repeated parameters and bad
/// values are refused with the parameter's name; empty values mean "any".
fn parse_dpo_request(raw: Option<&str>) -> Result<DpoRequest, FilterError> {
    let mut request = DpoRequest::default();
    let mut seen = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let Some(&parameter) = FILTER_PARAMETERS.iter().find(|name| **name == key) else {
            return Err(FilterError { parameter: "query", problem: FilterProblem::UnknownParameter });
        };
        // The display switches are never an error, whatever their value.
        if matches!(parameter, "text" | "contrast") {
            continue;
        }
        if seen.contains(&parameter) {
            return Err(FilterError { parameter, problem: FilterProblem::Repeated });
        }
        seen.push(parameter);
        let value = value.trim();
        if value.len() > MAX_FILTER_VALUE || crate::text::has_refused_char(value) {
            return Err(FilterError { parameter, problem: FilterProblem::RefusedText });
        }
        if value.is_empty() {
            continue;
        }
        let text = value.to_owned();
        match parameter {
            "from" => {
                request.filter.from =
                    Some(parse_time(value, false).ok_or(FilterError { parameter, problem: FilterProblem::NotATime })?);
                request.values.from = text;
            }
            "to" => {
                request.filter.until =
                    Some(parse_time(value, true).ok_or(FilterError { parameter, problem: FilterProblem::NotATime })?);
                request.values.to = text;
            }
            "action" => {
                let action = Action::ALL.into_iter().find(|action| action.as_str() == value);
                request.filter.action =
                    Some(action.ok_or(FilterError { parameter, problem: FilterProblem::UnknownAction })?.as_str());
                request.values.action = text;
            }
            "outcome" => {
                let outcome = match value {
                    "success" => Outcome::Success,
                    "refused" => Outcome::Refused,
                    "failed" => Outcome::Failed,
                    _ => return Err(FilterError { parameter, problem: FilterProblem::UnknownOutcome }),
                };
                request.filter.outcome = Some(outcome.as_str());
                request.values.outcome = text;
            }
            "department" | "service" => {
                if value.len() > 128
                    || !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
                {
                    return Err(FilterError { parameter, problem: FilterProblem::NotAnIdentifier });
                }
                if parameter == "department" {
                    request.filter.department = Some(text.clone());
                    request.values.department = text;
                } else {
                    request.filter.service = Some(text.clone());
                    request.values.service = text;
                }
            }
            "citizen" => {
                let citizen: CitizenId =
                    value.parse().map_err(|_| FilterError { parameter, problem: FilterProblem::NotACitizen })?;
                request.filter.subject = Some(citizen.to_string());
                request.values.citizen = text;
            }
            "after" => {
                request.after =
                    Some(value.parse().map_err(|_| FilterError { parameter, problem: FilterProblem::NotASequence })?);
            }
            "before" => {
                request.before =
                    Some(value.parse().map_err(|_| FilterError { parameter, problem: FilterProblem::NotASequence })?);
            }
            "limit" => {
                let limit: u32 =
                    value.parse().map_err(|_| FilterError { parameter, problem: FilterProblem::LimitOutOfRange })?;
                if !(1..=MAX_LIMIT).contains(&limit) {
                    return Err(FilterError { parameter, problem: FilterProblem::LimitOutOfRange });
                }
                request.limit = Some(limit);
            }
            // Only "lang" is left (the list above is exhaustive; the display
            // switches were skipped).
            _ => request.lang = Some(text),
        }
    }
    if let (Some(from), Some(until)) = (request.filter.from, request.filter.until)
        && from >= until
    {
        return Err(FilterError { parameter: "to", problem: FilterProblem::ToBeforeFrom });
    }
    if request.after.is_some() && request.before.is_some() {
        return Err(FilterError { parameter: "before", problem: FilterProblem::AfterAndBefore });
    }
    Ok(request)
}

/// A date is a whole UTC day: `from` its start, `to` its end (the store's
/// bound is exclusive, so the next day's start). An RFC 3339 time is exact.
fn parse_time(value: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Some(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let date = if end_of_day { date.succ_opt()? } else { date };
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The filter as a query string (for export and next-page links).
fn filter_query(values: &pages::DpoFilterValues) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("from", &values.from),
        ("to", &values.to),
        ("action", &values.action),
        ("outcome", &values.outcome),
        ("department", &values.department),
        ("service", &values.service),
        ("citizen", &values.citizen),
    ] {
        if !value.is_empty() {
            serializer.append_pair(key, value);
        }
    }
    serializer.finish()
}

/// A page of entries, at most `limit`, and whether there are more: oldest
/// first after `after` when the request gives it, else newest first (older
/// than `before`, if given), each from the right place of the filter's index.
async fn fetch_page(query: &DpoQuery, limit: u32, request: &DpoRequest) -> ApiResult<(Vec<StoredAuditEntry>, bool)> {
    let mut rows = match request.after {
        Some(after) => query.oldest_first(limit + 1, Some(after)).await?,
        None => query.newest_first(limit + 1, request.before).await?,
    };
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

fn reason_of(row: &StoredAuditEntry) -> Option<String> {
    AuditEntry::from_stored(row).and_then(Result::ok).and_then(|entry| entry.event.reason)
}

fn sequence_u64(sequence: i64) -> u64 {
    u64::try_from(sequence).unwrap_or(0)
}

// --- the query page and JSON ------------------------------------------------------

/// `GET /dpo`: the filter form and the matching entries.
pub async fn query_page(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let lang_hint = lang_param(&raw);
    let path = if raw.is_empty() { "/dpo".to_owned() } else { format!("/dpo?{raw}") };
    let dpo = match require_dpo(&app, &headers, &staff).await {
        Ok(dpo) => dpo,
        Err(error) => return error_page(&app, &headers, lang_hint.as_deref(), &path, error, false),
    };
    let ctx = page_context(&app, &headers, lang_hint.as_deref(), &path, Some(&dpo.session));
    let policies = app.vault.policies();
    let choices = FilterChoices::new(policies, ctx.lang);
    let request = match parse_dpo_request(Some(&raw)) {
        Ok(request) => request,
        Err(error) => {
            let view = pages::DpoQueryView {
                filter: raw_values(&raw),
                actions: choices.actions,
                departments: choices.departments,
                services: choices.services,
                filter_error: Some((error.parameter.to_owned(), ApiError::from(error).message(ctx.lang))),
                rows: Vec::new(),
                next_href: None,
                export_query: String::new(),
                oldest_first: false,
            };
            return respond(&app, &ctx, StatusCode::BAD_REQUEST, pages::dpo_query_page(&ctx, &view));
        }
    };
    let result = async {
        let query = record_query(&app, &dpo, &request.filter, "dpo_page").await?;
        let limit = request.limit.unwrap_or(PAGE_LIMIT);
        let (rows, more) = fetch_page(&query, limit, &request).await?;
        let export_query = filter_query(&request.values);
        let cursor = if request.after.is_some() { "after" } else { "before" };
        let next_href = more.then(|| rows.last()).flatten().map(|last| {
            let separator = if export_query.is_empty() { "" } else { "&" };
            format!("/dpo?{export_query}{separator}{cursor}={}&lang={}", last.sequence, i18n::lang_code(ctx.lang))
        });
        let rows = rows.iter().map(|row| entry_row(policies, ctx.lang, row)).collect();
        let view = pages::DpoQueryView {
            filter: request.values.clone(),
            actions: choices.actions,
            departments: choices.departments,
            services: choices.services,
            filter_error: None,
            rows,
            next_href,
            export_query,
            oldest_first: request.after.is_some(),
        };
        Ok::<_, ApiError>(respond(&app, &ctx, StatusCode::OK, pages::dpo_query_page(&ctx, &view)))
    }
    .await;
    result.unwrap_or_else(|error| error_page(&app, &headers, lang_hint.as_deref(), &path, error, true))
}

/// The choices of the filter form, as (value, words): every action, and
/// the departments and services the policy knows, by name.
struct FilterChoices {
    actions: Vec<(String, String)>,
    departments: Vec<(String, String)>,
    services: Vec<(String, String)>,
}

impl FilterChoices {
    fn new(policies: &Policies, lang: Lang) -> Self {
        Self {
            actions: Action::ALL
                .iter()
                .map(|action| (action.as_str().to_owned(), i18n::t(lang, i18n::action_message(*action)).to_owned()))
                .collect(),
            departments: policies
                .departments
                .iter()
                .map(|department| (department.id.clone(), department.name.get(lang).to_owned()))
                .collect(),
            services: policies
                .services
                .iter()
                .map(|service| (service.id.clone(), service.name.get(lang).to_owned()))
                .collect(),
        }
    }
}

/// A stored entry in words for the results table: department and service
/// by name (the id when the policy no longer has it), the action and the
/// actor in words. The exports and the JSON keep the ids.
fn entry_row(policies: &Policies, lang: Lang, row: &StoredAuditEntry) -> pages::DpoEntryRow {
    let action = Action::ALL
        .into_iter()
        .find(|action| action.as_str() == row.action)
        .map_or_else(|| row.action.clone(), |action| i18n::t(lang, i18n::action_message(action)).to_owned());
    let (actor, actor_id) = match (row.actor_kind.as_str(), row.actor_id.as_deref()) {
        ("department", Some(department)) => (policies.department_name(department, lang), None),
        ("citizen", id) => (i18n::t(lang, Msg::DpoActorCitizen).to_owned(), id.map(str::to_owned)),
        ("staff", id) => (i18n::t(lang, Msg::ActorStaff).to_owned(), id.map(str::to_owned)),
        ("system", _) => (i18n::t(lang, Msg::ActorSystem).to_owned(), None),
        (kind, id) => (kind.to_owned(), id.map(str::to_owned)),
    };
    pages::DpoEntryRow {
        sequence: row.sequence,
        time: row.time,
        actor,
        actor_id,
        action,
        outcome: row.outcome.clone(),
        subject: row.subject.clone(),
        department: row.department.as_deref().map(|department| policies.department_name(department, lang)),
        service: row.service.as_deref().map(|service| policies.service_name(service, lang)),
        reason: reason_of(row).map(|code| i18n::reason_label(lang, &code)),
    }
}

/// One entry as the JSON API and the JSON Lines export give it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EntryBody {
    sequence: i64,
    time: String,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    outcome: String,
    subject: Option<String>,
    department: Option<String>,
    service: Option<String>,
    reason: Option<String>,
    /// Hex; SHA-256(0x00 || body).
    leaf_hash: String,
    /// The exact bytes stored and hashed (UTF-8 JSON); null once pruned.
    body: Option<String>,
    /// The same entry parsed, for reading; null once pruned.
    #[schema(value_type = Option<Object>)]
    entry: Option<serde_json::Value>,
}

impl EntryBody {
    fn from_stored(row: &StoredAuditEntry) -> Self {
        Self {
            sequence: row.sequence,
            time: row.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            actor_kind: row.actor_kind.clone(),
            actor_id: row.actor_id.clone(),
            action: row.action.clone(),
            outcome: row.outcome.clone(),
            subject: row.subject.clone(),
            department: row.department.clone(),
            service: row.service.clone(),
            reason: reason_of(row),
            leaf_hash: hex::encode(&row.leaf_hash),
            body: row.body.as_deref().and_then(|body| std::str::from_utf8(body).ok()).map(str::to_owned),
            entry: row.body.as_deref().and_then(|body| serde_json::from_slice(body).ok()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EntriesBody {
    /// Newest first, or oldest first when `after` was given.
    entries: Vec<EntryBody>,
    /// Oldest first: pass as `after` for the next page; null on the last
    /// page and when newest first.
    next_after: Option<i64>,
    /// Newest first: pass as `before` for the next (older) page; null on the
    /// last page and when oldest first.
    next_before: Option<i64>,
}

/// `GET /api/v1/dpo/entries`: the same query as JSON, keyset-paged.
#[utoipa::path(get, path = "/api/v1/dpo/entries", tag = crate::http::openapi::tags::DPO,
    security(("staff_session_cookie" = [])),
    params(
        ("from" = Option<String>, Query, description = "From this time (RFC 3339, or a date: its start)."),
        ("to" = Option<String>, Query, description = "Until this time (RFC 3339, or a date: its end)."),
        ("action" = Option<String>, Query, description = "An audit action (`release`, `upload`, ...)."),
        ("outcome" = Option<String>, Query, description = "`success`, `refused` or `failed`."),
        ("department" = Option<String>, Query, description = "A department id."),
        ("service" = Option<String>, Query, description = "A service id."),
        ("citizen" = Option<String>, Query, description = "A citizen id."),
        ("after" = Option<i64>, Query, description = "Entries after this sequence number, oldest first."),
        ("before" = Option<i64>, Query, description = "Entries before this sequence number, newest first."),
        ("limit" = Option<u32>, Query, description = "Entries per page."),
        ("lang" = Option<String>, Query, description = "Ignored by the JSON (the page's language switch)."),
    ),
    responses((status = 200, description = "A page of entries; the query itself is audited.", body = EntriesBody)))]
pub async fn entries_json(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<EntriesBody>> {
    let dpo = require_dpo(&app, &headers, &staff).await?;
    let request = parse_api_request(raw.as_deref())?;
    let query = record_query(&app, &dpo, &request.filter, "dpo_entries").await?;
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    let (rows, more) = fetch_page(&query, limit, &request).await?;
    let next = if more { rows.last().map(|row| row.sequence) } else { None };
    let (next_after, next_before) = if request.after.is_some() { (next, None) } else { (None, next) };
    Ok(Json(EntriesBody { entries: rows.iter().map(EntryBody::from_stored).collect(), next_after, next_before }))
}

// --- exports -------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    JsonLines,
}

/// `GET /dpo/export.csv`
pub async fn export_csv(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    export(&app, &staff, &headers, raw.as_deref(), ExportFormat::Csv).await
}

/// `GET /dpo/export.jsonl`
pub async fn export_jsonl(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    export(&app, &staff, &headers, raw.as_deref(), ExportFormat::JsonLines).await
}

async fn export(
    app: &AppState,
    staff: &StaffSetup,
    headers: &HeaderMap,
    raw: Option<&str>,
    format: ExportFormat,
) -> Response {
    let result = async {
        let dpo = require_dpo(app, headers, staff).await?;
        let request = parse_dpo_request(raw)?;
        let reason = if format == ExportFormat::Csv { "dpo_export_csv" } else { "dpo_export_jsonl" };
        let query = record_query(app, &dpo, &request.filter, reason).await?;
        Ok::<_, ApiError>(export_response(query, request, format))
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => negotiated_error(app, headers, error),
    }
}

/// The export body, streamed a store page at a time (memory stays flat for
/// any log size). A store failure mid-way aborts the response, so a
/// truncated file never looks complete.
fn export_response(query: DpoQuery, request: DpoRequest, format: ExportFormat) -> Response {
    struct Cursor {
        after: Option<u64>,
        first: bool,
        remaining: Option<u64>,
    }
    let start = Some(Cursor { after: request.after, first: true, remaining: request.limit.map(u64::from) });
    let stream = futures_util::stream::unfold(start, move |cursor| {
        let query = query.clone();
        async move {
            let cursor = cursor?;
            let page = match cursor.remaining {
                Some(remaining) => u32::try_from(remaining.min(u64::from(SCAN_PAGE))).unwrap_or(SCAN_PAGE),
                None => SCAN_PAGE,
            };
            let rows = if page == 0 {
                Vec::new()
            } else {
                match query.oldest_first(page, cursor.after).await {
                    Ok(rows) => rows,
                    Err(error) => {
                        tracing::error!(%error, "audit export failed mid-way");
                        return Some((Err(std::io::Error::other("audit export failed")), None));
                    }
                }
            };
            let mut chunk = String::new();
            if cursor.first && format == ExportFormat::Csv {
                chunk.push_str(CSV_HEADER);
                chunk.push('\n');
            }
            if rows.is_empty() && !cursor.first {
                return None;
            }
            for row in &rows {
                match format {
                    ExportFormat::Csv => csv_line(&mut chunk, row),
                    ExportFormat::JsonLines => {
                        // Serialising plain data with string keys cannot fail.
                        chunk.push_str(&serde_json::to_string(&EntryBody::from_stored(row)).unwrap_or_default());
                        chunk.push('\n');
                    }
                }
            }
            let remaining = cursor.remaining.map(|remaining| remaining.saturating_sub(rows.len() as u64));
            let next = (rows.len() == page as usize && page > 0 && remaining != Some(0)).then(|| Cursor {
                after: rows.last().map(|row| sequence_u64(row.sequence)),
                first: false,
                remaining,
            });
            Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
        }
    });
    let (content_type, file_name) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "tresor-audit.csv"),
        ExportFormat::JsonLines => ("application/x-ndjson", "tresor-audit.jsonl"),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn csv_line(out: &mut String, row: &StoredAuditEntry) {
    out.push_str(&csv_row(row, reason_of(row).as_deref().unwrap_or_default()));
    out.push('\n');
}

// --- statistics --------------------------------------------------------------------------

/// The periods the statistics offer: the last so many months.
const STATS_PERIODS: [u32; 4] = [3, 6, 12, 24];
/// The period without a choice (and without dates): the last 12 months.
const DEFAULT_STATS_PERIOD: u32 = 12;

/// The statistics' `period`: `3`, `6`, `12` or `24` (the last so many
/// months, German time, this one included) or `all`; Ok(None) when not
/// given. The rest of the query string is the query page's filter.
fn split_period(raw: &str) -> Result<(Option<Option<u32>>, String), FilterError> {
    let mut period = None;
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        if key != "period" {
            rest.append_pair(&key, &value);
            continue;
        }
        let parameter = "period";
        if period.is_some() {
            return Err(FilterError { parameter, problem: FilterProblem::Repeated });
        }
        period = Some(match value.trim() {
            "" => None,
            "all" => Some(None),
            value => Some(Some(
                value
                    .parse()
                    .ok()
                    .filter(|months| STATS_PERIODS.contains(months))
                    .ok_or(FilterError { parameter, problem: FilterProblem::UnknownPeriod })?,
            )),
        });
    }
    Ok((period.flatten(), rest.finish()))
}

/// The filters of the address besides the period and the language, as
/// typed (refused characters dropped, bounded), for the period form to
/// send again.
fn kept_filters(raw: &str) -> Vec<(String, String)> {
    const FILTERS: [&str; 7] = ["from", "to", "action", "outcome", "department", "service", "citizen"];
    url::form_urlencoded::parse(raw.as_bytes())
        .filter(|(key, value)| FILTERS.contains(&key.as_ref()) && !value.is_empty())
        .map(|(key, value)| {
            let value: String =
                value.chars().filter(|c| !crate::text::is_refused_char(*c)).take(MAX_FILTER_VALUE).collect();
            (key.into_owned(), value)
        })
        .collect()
}

/// The choices of the period control, as (value, words).
fn period_choices(lang: Lang) -> Vec<(String, String)> {
    STATS_PERIODS
        .iter()
        .map(|months| (months.to_string(), i18n::period_last_months(lang, *months)))
        .chain([("all".to_owned(), i18n::t(lang, Msg::DpoPeriodAll).to_owned())])
        .collect()
}

/// `GET /dpo/stats`: successful and refused releases per department and
/// month (German time), as a chart and a table, for a period (the last 12
/// months unless `period` or dates say otherwise). Takes the same time,
/// department and service filters as the query page.
pub async fn stats_page(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    dpo_page(&app, &staff, &headers, "/dpo/stats", &raw, async |dpo, ctx| {
        let parsed = split_period(&raw).and_then(|(period, rest)| Ok((period, parse_dpo_request(Some(&rest))?)));
        let (period, request) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                let view = pages::DpoStatsView {
                    rows: Vec::new(),
                    periods: period_choices(ctx.lang),
                    period: String::new(),
                    shown: None,
                    filter_error: Some((error.parameter.to_owned(), ApiError::from(error).message(ctx.lang))),
                    kept_filters: kept_filters(&raw),
                };
                return Ok(respond(&app, &ctx, StatusCode::BAD_REQUEST, pages::dpo_stats_page(&ctx, &view)));
            }
        };
        let dated = request.filter.from.is_some() || request.filter.until.is_some();
        let period = period.unwrap_or(if dated { None } else { Some(DEFAULT_STATS_PERIOD) });
        let this_month = i18n::german_month(app.vault.clock().now());
        let start = period
            .and_then(|months| i18n::months_back(&this_month, months.saturating_sub(1)))
            .and_then(|month| i18n::german_month_start(&month));
        let from = match (request.filter.from, start) {
            (Some(from), Some(start)) => Some(from.max(start)),
            (from, start) => from.or(start),
        };
        let last_month = request
            .filter
            .until
            .map_or(this_month, |until| i18n::german_month(until - chrono::Duration::microseconds(1)));
        let filter = AuditFilter { action: Some(Action::Release.as_str()), outcome: None, from, ..request.filter };
        let query = record_query(&app, &dpo, &filter, "dpo_stats").await?;
        let policies = app.vault.policies();
        let rows = department_stats(&query)
            .await?
            .into_iter()
            .map(|((month, department), (granted, refused))| pages::DpoStatsRow {
                department: department.map(|department| policies.department_name(&department, ctx.lang)),
                month: i18n::month_label(ctx.lang, &month),
                granted,
                refused,
            })
            .collect();
        let view = pages::DpoStatsView {
            rows,
            periods: period_choices(ctx.lang),
            period: period.map_or_else(|| "all".to_owned(), |months| months.to_string()),
            shown: Some(i18n::period_shown(ctx.lang, from.map(i18n::german_month).as_deref(), &last_month)),
            filter_error: None,
            kept_filters: kept_filters(&raw),
        };
        Ok::<_, ApiError>(respond(&app, &ctx, StatusCode::OK, pages::dpo_stats_page(&ctx, &view)))
    })
    .await
}

/// Granted and refused releases by (month `YYYY-MM`, department id).
type StatsCounts = BTreeMap<(String, Option<String>), (u64, u64)>;

/// Count the matching entries, scanning the log a page at a time.
async fn department_stats(query: &DpoQuery) -> ApiResult<StatsCounts> {
    let mut counts = StatsCounts::new();
    let mut after = None;
    loop {
        let rows = query.oldest_first(SCAN_PAGE, after).await?;
        for row in &rows {
            let count = counts.entry((i18n::german_month(row.time), row.department.clone())).or_default();
            if row.outcome == "success" {
                count.0 += 1;
            } else {
                count.1 += 1;
            }
        }
        if rows.len() < SCAN_PAGE as usize {
            break;
        }
        after = rows.last().map(|row| sequence_u64(row.sequence));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_strictly() {
        let request = parse_dpo_request(Some(
            "from=2026-05-01&to=2026-05-31&action=release&outcome=refused&department=wohngeld&citizen=0123456789abcdef0123456789abcdef&limit=5&after=7",
        ))
        .expect("valid");
        assert_eq!(request.filter.action, Some(Action::Release.as_str()));
        assert_eq!(request.filter.outcome, Some(Outcome::Refused.as_str()));
        assert_eq!(request.filter.department.as_deref(), Some("wohngeld"));
        assert_eq!(request.filter.until.map(|t| t.to_rfc3339()), Some("2026-06-01T00:00:00+00:00".to_owned()));
        assert_eq!((request.limit, request.after), (Some(5), Some(7)));
        assert!(parse_dpo_request(Some("action=&outcome=")).expect("empty is any").filter == AuditFilter::default());
        for bad in [
            "action=drop_table",
            "outcome=maybe",
            "from=yesterday",
            "from=2026-05-02&to=2026-05-01",
            "citizen=anna",
            "department=a%20b",
            "limit=0",
            "limit=1001",
            "after=-1",
            "action=login&action=logout",
            "colour=red",
            "department=%00",
        ] {
            let error = parse_dpo_request(Some(bad)).expect_err(bad);
            let api: ApiError = error.into();
            assert_eq!((api.status, api.code), (StatusCode::BAD_REQUEST, ErrorCode::InvalidFilter), "{bad}");
        }
    }

    #[test]
    fn the_statistics_period_is_one_of_the_offered() {
        assert_eq!(
            split_period("period=6&department=kita_amt").expect("valid"),
            (Some(Some(6)), "department=kita_amt".to_owned())
        );
        assert_eq!(split_period("period=all").expect("valid").0, Some(None));
        assert_eq!(split_period("period=&lang=en").expect("valid"), (None, "lang=en".to_owned()));
        for bad in ["period=7", "period=-3", "period=12months", "period=3&period=6", "period=%00"] {
            let api: ApiError = split_period(bad).expect_err(bad).into();
            assert_eq!((api.status, api.code), (StatusCode::BAD_REQUEST, ErrorCode::InvalidFilter), "{bad}");
        }
        let api: ApiError = split_period("period=5").expect_err("not offered").into();
        assert_eq!(api.message(Lang::En), "Please choose one of the offered periods.");
    }
}
