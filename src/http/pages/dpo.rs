//! The data-protection officers' pages.

use super::*;

/// The filter values as the DPO typed them (shown again in the form).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DpoFilterValues {
    pub from: String,
    pub to: String,
    pub action: String,
    pub outcome: String,
    pub department: String,
    pub service: String,
    pub citizen: String,
}

/// One audit entry in the DPO's results table, in words: the handler names
/// departments and services and words the action and the actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoEntryRow {
    pub sequence: i64,
    pub time: DateTime<Utc>,
    /// Who acted: an office by name, "citizen", staff, the system.
    pub actor: String,
    /// The actor's pseudonymous id (citizen, staff), shown shortened.
    pub actor_id: Option<String>,
    /// The action in words.
    pub action: String,
    /// `success`, `refused` or `failed` (worded here).
    pub outcome: String,
    /// The citizen concerned (pseudonymous id), shown shortened.
    pub subject: Option<String>,
    /// Department and service by name (the id if the policy lost them).
    pub department: Option<String>,
    pub service: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoQueryView {
    pub filter: DpoFilterValues,
    /// The choices of the selects as (value, words): every action, the
    /// departments and services the policy knows.
    pub actions: Vec<(String, String)>,
    pub departments: Vec<(String, String)>,
    pub services: Vec<(String, String)>,
    /// (parameter name, translated message) of a refused filter value.
    pub filter_error: Option<(String, String)>,
    pub rows: Vec<DpoEntryRow>,
    /// Link to the next page of results, if there is more.
    pub next_href: Option<String>,
    /// The filter as a query string (`action=...&...`), for the export links.
    pub export_query: String,
    /// The rows are oldest first (from `after`); newest first otherwise.
    pub oldest_first: bool,
}

/// One bar of the statistics: accesses of one department in one month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoStatsRow {
    /// Department name (its id if the policy lost it), or None for entries
    /// without one.
    pub department: Option<String>,
    /// The month in words ("Mai 2026"), German civil time.
    pub month: String,
    pub granted: u64,
    pub refused: u64,
}

/// The statistics page: the period control, which months are counted, and
/// the counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoStatsView {
    pub rows: Vec<DpoStatsRow>,
    /// The period choices as (value, words), and the chosen value.
    pub periods: Vec<(String, String)>,
    pub period: String,
    /// Which months are counted, in words; None when the request was refused.
    pub shown: Option<String>,
    /// (parameter name, translated message) of a refused value.
    pub filter_error: Option<(String, String)>,
    /// The other filters of the address (department, service, ...), kept
    /// as hidden inputs when the period is changed.
    pub kept_filters: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoVerifyView {
    pub ok: bool,
    /// Plain sentences on what was checked (already translated).
    pub checked: Vec<String>,
    /// Plain sentences on what failed (already translated).
    pub problems: Vec<String>,
}

/// The DPO's query form and the matching entries.
pub fn dpo_query_page(ctx: &PageContext, view: &DpoQueryView) -> Markup {
    let lang = ctx.lang;
    let filter = &view.filter;
    let error_for = |name: &str| view.filter_error.as_ref().filter(|(param, _)| param == name).map(|(_, m)| m.clone());
    let body = html! {
        h1 { (t(lang, Msg::DpoQueryTitle)) }
        p { (t(lang, Msg::DpoQueryIntro)) }
        @if let Some((param, message)) = &view.filter_error {
            (error_summary(lang, &[ErrorSummaryEntry {
                target: Some(format!("#{}", dpo_filter_id(param))),
                label: t(lang, Msg::DpoFilterLegend),
                message,
            }]))
        }
        form.dpo-filter method="get" action="/dpo" {
            fieldset {
                legend { (t(lang, Msg::DpoFilterLegend)) }
                (dpo_text_filter(lang, "from", Msg::DpoFieldFrom, "date", &filter.from, error_for("from")))
                (dpo_text_filter(lang, "to", Msg::DpoFieldTo, "date", &filter.to, error_for("to")))
                (dpo_select_filter(lang, "action", Msg::DpoFieldAction, &view.actions, &filter.action, error_for("action")))
                (dpo_select_filter(lang, "outcome", Msg::DpoFieldOutcome, &[
                    ("success".to_owned(), t(lang, Msg::DpoOutcomeSuccess).to_owned()),
                    ("refused".to_owned(), t(lang, Msg::DpoOutcomeRefused).to_owned()),
                    ("failed".to_owned(), t(lang, Msg::DpoOutcomeFailed).to_owned()),
                ], &filter.outcome, error_for("outcome")))
                (dpo_select_filter(lang, "department", Msg::DpoFieldDepartment, &view.departments, &filter.department, error_for("department")))
                (dpo_select_filter(lang, "service", Msg::DpoFieldService, &view.services, &filter.service, error_for("service")))
                (dpo_citizen_filter(lang, &filter.citizen, error_for("citizen")))
            }
            input type="hidden" name="lang" value=(lang_code(lang));
            button.button type="submit" { (t(lang, Msg::DpoSearch)) }
        }
        @if view.filter_error.is_none() {
            @if view.rows.is_empty() {
                p.empty-state { (t(lang, Msg::DpoNoResults)) }
            } @else {
                p.hint { (t(lang, Msg::DpoShortIdHint)) }
                div.table-scroll role="region" tabindex="0"
                    aria-label=(t(lang, if view.oldest_first { Msg::DpoResultsCaptionOldestFirst } else { Msg::DpoResultsCaption })) {
                    table.dpo-table {
                        caption {
                            (t(lang, if view.oldest_first { Msg::DpoResultsCaptionOldestFirst } else { Msg::DpoResultsCaption }))
                        }
                        thead {
                            tr {
                                th scope="col" { (t(lang, Msg::DpoColumnSequence)) }
                                th scope="col" { (t(lang, Msg::DpoColumnTime)) }
                                th scope="col" { (t(lang, Msg::DpoColumnActor)) }
                                th scope="col" { (t(lang, Msg::DpoFieldAction)) }
                                th scope="col" { (t(lang, Msg::DpoFieldOutcome)) }
                                th scope="col" { (t(lang, Msg::DpoColumnSubject)) }
                                th scope="col" { (t(lang, Msg::DpoFieldDepartment)) }
                                th scope="col" { (t(lang, Msg::DpoFieldService)) }
                                th scope="col" { (t(lang, Msg::DpoColumnReason)) }
                            }
                        }
                        tbody {
                            @for row in &view.rows {
                                tr {
                                    th scope="row" { (row.sequence) }
                                    td { (utc_time_element(row.time)) }
                                    td { (row.actor) @if let Some(id) = &row.actor_id { " " (short_id(id)) } }
                                    td { (row.action) }
                                    td { (outcome_label(lang, &row.outcome)) }
                                    td {
                                        @if let Some(subject) = &row.subject {
                                            a href=(format!("/dpo?citizen={}&lang={}", query_value(subject), lang_code(lang))) {
                                                (short_id(subject))
                                            }
                                        }
                                    }
                                    td { (row.department.as_deref().unwrap_or_default()) }
                                    td { (row.service.as_deref().unwrap_or_default()) }
                                    td { (row.reason.as_deref().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &view.next_href {
                    p { a href=(next) { (t(lang, Msg::DpoNextPage)) } }
                }
            }
            h2 { (t(lang, Msg::DpoExportHeading)) }
            ul.link-list {
                li { a href=(format!("/dpo/export.csv?{}", view.export_query)) download { (t(lang, Msg::DpoExportCsv)) } }
                li { a href=(format!("/dpo/export.jsonl?{}", view.export_query)) download { (t(lang, Msg::DpoExportJsonl)) } }
            }
        }
    };
    layout(ctx, t(lang, Msg::DpoQueryTitle), dpo_frame(ctx, body))
}

/// Accesses per department and month: the period control, which months
/// are counted, a bar chart (inline SVG, no script) and the same numbers as
/// a table.
pub fn dpo_stats_page(ctx: &PageContext, view: &DpoStatsView) -> Markup {
    let lang = ctx.lang;
    let rows = &view.rows;
    let department_label =
        |row: &DpoStatsRow| row.department.clone().unwrap_or_else(|| t(lang, Msg::DpoUnknownDepartment).to_owned());
    let period_error = view.filter_error.as_ref().filter(|(param, _)| param == "period").map(|(_, m)| m.clone());
    let body = html! {
        h1 { (t(lang, Msg::DpoStatsTitle)) }
        p { (t(lang, Msg::DpoStatsIntro)) }
        @if let Some((param, message)) = &view.filter_error {
            (error_summary(lang, &[ErrorSummaryEntry {
                target: (param == "period").then(|| format!("#{}", dpo_filter_id(param))),
                label: t(lang, Msg::DpoPeriodLabel),
                message,
            }]))
        }
        form.dpo-filter method="get" action="/dpo/stats" {
            (dpo_select_choices(lang, "period", Msg::DpoPeriodLabel, &view.periods, None, &view.period, period_error))
            @for (name, value) in &view.kept_filters {
                input type="hidden" name=(name) value=(value);
            }
            input type="hidden" name="lang" value=(lang_code(lang));
            button.button type="submit" { (t(lang, Msg::DpoPeriodShow)) }
        }
        @if let Some(shown) = &view.shown {
            p.dpo-period-shown { strong { (shown) } }
            @if rows.is_empty() {
                p.empty-state { (t(lang, Msg::DpoStatsEmpty)) }
            } @else {
                (stats_chart(lang, rows, &department_label))
                div.table-scroll role="region" tabindex="0" aria-label=(t(lang, Msg::DpoStatsTableCaption)) {
                    table.dpo-stats-table {
                        caption { (t(lang, Msg::DpoStatsTableCaption)) }
                        thead {
                            tr {
                                th scope="col" { (t(lang, Msg::DpoFieldDepartment)) }
                                th scope="col" { (t(lang, Msg::DpoStatsColumnMonth)) }
                                th scope="col" { (t(lang, Msg::DpoStatsColumnGranted)) }
                                th scope="col" { (t(lang, Msg::DpoStatsColumnRefused)) }
                            }
                        }
                        tbody {
                            @for row in rows {
                                tr {
                                    th scope="row" { (department_label(row)) }
                                    td { (row.month) }
                                    td.number { (row.granted) }
                                    td.number { (row.refused) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, t(lang, Msg::DpoStatsTitle), dpo_frame(ctx, body))
}

/// What the verification recomputed, in plain words.
pub fn dpo_verify_page(ctx: &PageContext, view: &DpoVerifyView) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::DpoNavVerify)) }
        @if view.ok {
            div.notice role="status" { p { strong { (t(lang, Msg::DpoVerifyOk)) } } }
        } @else {
            div.error-summary role="alert" aria-labelledby="verify-problems" {
                h2 #verify-problems { (t(lang, Msg::DpoVerifyFailed)) }
                ul { @for problem in &view.problems { li { (problem) } } }
            }
        }
        h2 { (t(lang, Msg::DpoVerifyWhat)) }
        ul { @for sentence in &view.checked { li { (sentence) } } }
    };
    layout(ctx, t(lang, Msg::DpoNavVerify), dpo_frame(ctx, body))
}

/// An error on a staff page: like `error_page`, but the way back in is the
/// staff login, never the citizens' one.
pub fn dpo_error_page(ctx: &PageContext, status: u16, title: &str, message: &str, logged_in: bool) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (title) }
        p { (message) }
        p.error-code { (t(lang, Msg::ErrorCodeLabel)) " " (status) }
        ul.link-list {
            @if status == 401 {
                li { a.button href=(staff_login_href(&ctx.current_path)) { (t(lang, Msg::DpoStaffLogin)) } }
            }
            @if logged_in {
                li { a href="/dpo" { (t(lang, Msg::DpoNavQuery)) } }
            }
            li { a href="/" { (t(lang, Msg::BackToStart)) } }
        }
    };
    layout(ctx, title, body)
}

/// The staff navigation and status above a DPO page's content.
fn dpo_frame(ctx: &PageContext, content: Markup) -> Markup {
    let lang = ctx.lang;
    let current = path_without_query(&ctx.current_path);
    let links = [("/dpo", Msg::DpoNavQuery), ("/dpo/stats", Msg::DpoNavStats), ("/dpo/verify", Msg::DpoNavVerify)];
    html! {
        nav.main-nav aria-label=(t(lang, Msg::DpoNavLabel)) {
            ul {
                @for (href, msg) in links {
                    li { a href=(href) aria-current=[(current == href).then_some("page")] { (t(lang, msg)) } }
                }
                li {
                    a href="/dpo/feedback" aria-current=[(current == "/dpo/feedback").then_some("page")] {
                        (i18n::info(lang, i18n::InfoText::DpoNavFeedback))
                    }
                }
                li {
                    form.inline-form method="post" action="/staff/logout" {
                        (csrf_input(ctx))
                        button.link-button type="submit" { (t(lang, Msg::DpoLogout)) }
                    }
                }
            }
        }
        p.login-status { (t(lang, Msg::DpoStaffStatus)) }
        (content)
    }
}

fn dpo_filter_id(name: &str) -> String {
    format!("dpo-filter-{}", field_id(name).trim_start_matches("field-"))
}

fn dpo_text_filter(lang: Lang, name: &str, label: Msg, kind: &str, value: &str, error: Option<String>) -> Markup {
    let id = dpo_filter_id(name);
    let error_id = format!("{id}-error");
    html! {
        div.field.field-has-error[error.is_some()] {
            label for=(id) { (t(lang, label)) }
            @if let Some(error) = &error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            input type=(kind) id=(id) name=(name) value=(value) maxlength="200"
                aria-invalid=[error.is_some().then_some("true")]
                aria-describedby=[error.is_some().then_some(&error_id)];
        }
    }
}

/// The citizen filter: a pseudonymous id, typed or pasted, with a hint.
fn dpo_citizen_filter(lang: Lang, value: &str, error: Option<String>) -> Markup {
    let id = dpo_filter_id("citizen");
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = if error.is_some() { format!("{hint_id} {error_id}") } else { hint_id.clone() };
    html! {
        div.field.field-has-error[error.is_some()] {
            label for=(id) { (t(lang, Msg::DpoFieldCitizen)) }
            p.hint id=(hint_id) { (t(lang, Msg::DpoCitizenHint)) }
            @if let Some(error) = &error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            input type="text" id=(id) name="citizen" value=(value) maxlength="200" spellcheck="false" autocomplete="off"
                aria-invalid=[error.is_some().then_some("true")]
                aria-describedby=(described_by);
        }
    }
}

/// A filter select with "all" first: the options as (value, words); a
/// value the options do not know (typed into the address) stays chosen,
/// shown as it is.
fn dpo_select_filter(
    lang: Lang,
    name: &str,
    label: Msg,
    options: &[(String, String)],
    selected: &str,
    error: Option<String>,
) -> Markup {
    dpo_select_choices(lang, name, label, options, Some(t(lang, Msg::DpoAnyOption)), selected, error)
}

fn dpo_select_choices(
    lang: Lang,
    name: &str,
    label: Msg,
    options: &[(String, String)],
    any: Option<&str>,
    selected: &str,
    error: Option<String>,
) -> Markup {
    let id = dpo_filter_id(name);
    let error_id = format!("{id}-error");
    let unlisted = !selected.is_empty() && !options.iter().any(|(value, _)| value == selected);
    html! {
        div.field.field-has-error[error.is_some()] {
            label for=(id) { (t(lang, label)) }
            @if let Some(error) = &error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            select id=(id) name=(name)
                aria-invalid=[error.is_some().then_some("true")]
                aria-describedby=[error.is_some().then_some(&error_id)] {
                @if let Some(any) = any {
                    option value="" { (any) }
                }
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
                @if unlisted {
                    option value=(selected) selected { (selected) }
                }
            }
        }
    }
}

/// A pseudonymous id, shortened to its first 8 characters; the whole id
/// is its title (and in every export).
fn short_id(id: &str) -> Markup {
    let short: String = id.chars().take(8).collect();
    let ellipsis = id.chars().count() > 8;
    html! { code title=(id) { (short) @if ellipsis { "…" } } }
}

/// Bar lengths are steps of this many per cent (CSS classes `bar-0` …
/// `bar-100` in `style-reflow.css`; the page's CSP allows no inline styles).
const CHART_STEP_PERCENT: u64 = 5;

/// A horizontal bar chart of granted accesses as HTML: one row per
/// department and month with its words, a bar and the number. Text is page
/// text (it reflows and never shrinks with the chart, as an SVG's would);
/// bars are bordered boxes, so they stay visible in forced colours. The
/// list is one figure with a caption and a summary; the table below
/// carries the same numbers for everyone.
fn stats_chart(lang: Lang, rows: &[DpoStatsRow], department_label: &dyn Fn(&DpoStatsRow) -> String) -> Markup {
    let max = rows.iter().map(|row| row.granted).max().unwrap_or(0).max(1);
    let total: u64 = rows.iter().map(|row| row.granted).sum();
    html! {
        figure.dpo-chart aria-labelledby="stats-chart-title" aria-describedby="stats-chart-desc" {
            figcaption #stats-chart-title { (t(lang, Msg::DpoStatsChartTitle)) }
            p.hint #stats-chart-desc { (i18n::stats_chart_summary(lang, rows.len(), total, max)) }
            ul.chart-rows {
                @for row in rows {
                    li.chart-row {
                        span.chart-label { (department_label(row)) " · " (row.month) }
                        span.chart-track aria-hidden="true" {
                            span class=(format!("chart-bar bar-{}", bar_step(row.granted, max))) {}
                        }
                        span.chart-value { (row.granted) }
                    }
                }
            }
        }
    }
}

/// The bar's length in per cent of the largest, in steps of
/// [`CHART_STEP_PERCENT`]; a count above 0 always shows a bar.
pub(super) fn bar_step(count: u64, max: u64) -> u64 {
    if count == 0 {
        return 0;
    }
    let percent = u64::try_from(u128::from(count) * 100 / u128::from(max.max(1))).unwrap_or(100);
    let step = (percent + CHART_STEP_PERCENT / 2) / CHART_STEP_PERCENT * CHART_STEP_PERCENT;
    step.clamp(CHART_STEP_PERCENT, 100)
}

fn staff_login_href(path: &str) -> String {
    let local = if path.starts_with("/dpo") && !path.starts_with("//") { path } else { "/dpo" };
    let encoded: String = url::form_urlencoded::byte_serialize(local.as_bytes()).collect();
    format!("/staff/login?return_to={encoded}")
}

/// One accessibility feedback message as the DPO reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoFeedbackRow {
    pub number: i64,
    pub received_at: DateTime<Utc>,
    /// The language of the page it was written on (`de`, `en`).
    pub lang: String,
    pub contact: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoFeedbackView {
    pub rows: Vec<DpoFeedbackRow>,
    /// Link to older messages, if there are more.
    pub next_href: Option<String>,
}

/// `GET /dpo/feedback`: the messages of the accessibility feedback form,
/// newest first, each as a block (no wide table).
pub fn dpo_feedback_page(ctx: &PageContext, view: &DpoFeedbackView) -> Markup {
    use crate::http::i18n::{InfoText, info};
    let lang = ctx.lang;
    let body = html! {
        h1 { (info(lang, InfoText::DpoFeedbackTitle)) }
        p { (info(lang, InfoText::DpoFeedbackIntro)) }
        @if view.rows.is_empty() {
            p.empty-state { (info(lang, InfoText::DpoFeedbackEmpty)) }
        } @else {
            ol.feedback-list {
                @for row in &view.rows {
                    li.feedback-item {
                        dl.details {
                            div {
                                dt { (info(lang, InfoText::DpoFeedbackReceived)) }
                                dd { (date_time_element(lang, row.received_at)) " (" (row.number) ")" }
                            }
                            div {
                                dt { (info(lang, InfoText::DpoFeedbackLanguage)) }
                                dd { (row.lang) }
                            }
                            div {
                                dt { (info(lang, InfoText::DpoFeedbackContact)) }
                                dd {
                                    @if row.contact.is_empty() { (info(lang, InfoText::DpoFeedbackNoContact)) }
                                    @else { (row.contact) }
                                }
                            }
                        }
                        blockquote.feedback-message lang=[feedback_lang(&row.lang)] { (row.message) }
                    }
                }
            }
            @if let Some(next) = &view.next_href {
                p { a href=(next) { (info(lang, InfoText::DpoFeedbackOlder)) } }
            }
        }
    };
    layout(ctx, info(lang, InfoText::DpoFeedbackTitle), dpo_frame(ctx, body))
}

/// The `lang` attribute of a message: the page language it was written on,
/// if it is one tresor knows.
fn feedback_lang(code: &str) -> Option<&'static str> {
    match code {
        "de" => Some("de"),
        "en" => Some("en"),
        _ => None,
    }
}
