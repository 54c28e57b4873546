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

/// One audit entry in the DPO's results table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoEntryRow {
    pub sequence: i64,
    pub time: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub subject: Option<String>,
    pub department: Option<String>,
    pub service: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoQueryView {
    pub filter: DpoFilterValues,
    /// Every action name, for the select.
    pub actions: Vec<&'static str>,
    /// (parameter name, translated message) of a refused filter value.
    pub filter_error: Option<(String, String)>,
    pub rows: Vec<DpoEntryRow>,
    /// Link to the next page of results, if there is more.
    pub next_href: Option<String>,
    /// The filter as a query string (`action=...&...`), for the export links.
    pub export_query: String,
}

/// One bar of the statistics: accesses of one department in one month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoStatsRow {
    /// Department id, or None for entries without one.
    pub department: Option<String>,
    /// `YYYY-MM` in German civil time.
    pub month: String,
    pub granted: u64,
    pub refused: u64,
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
                (dpo_select_filter(lang, "action", Msg::DpoFieldAction,
                    &view.actions.iter().map(|a| ((*a).to_owned(), (*a).to_owned())).collect::<Vec<_>>(),
                    &filter.action, error_for("action")))
                (dpo_select_filter(lang, "outcome", Msg::DpoFieldOutcome, &[
                    ("success".to_owned(), t(lang, Msg::DpoOutcomeSuccess).to_owned()),
                    ("refused".to_owned(), t(lang, Msg::DpoOutcomeRefused).to_owned()),
                    ("failed".to_owned(), t(lang, Msg::DpoOutcomeFailed).to_owned()),
                ], &filter.outcome, error_for("outcome")))
                (dpo_text_filter(lang, "department", Msg::DpoFieldDepartment, "text", &filter.department, error_for("department")))
                (dpo_text_filter(lang, "service", Msg::DpoFieldService, "text", &filter.service, error_for("service")))
                (dpo_text_filter(lang, "citizen", Msg::DpoFieldCitizen, "text", &filter.citizen, error_for("citizen")))
            }
            input type="hidden" name="lang" value=(lang_code(lang));
            button.button type="submit" { (t(lang, Msg::DpoSearch)) }
        }
        @if view.filter_error.is_none() {
            @if view.rows.is_empty() {
                p.empty-state { (t(lang, Msg::DpoNoResults)) }
            } @else {
                div.table-scroll {
                    table.dpo-table {
                        caption { (t(lang, Msg::DpoResultsCaption)) }
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
                                    td { (row.actor_kind) @if let Some(id) = &row.actor_id { " " code { (id) } } }
                                    td { (row.action) }
                                    td { (outcome_label(lang, &row.outcome)) }
                                    td { @if let Some(subject) = &row.subject { code { (subject) } } }
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

/// Accesses per department and month: a bar chart (inline SVG, no script)
/// and the same numbers as a table.
pub fn dpo_stats_page(ctx: &PageContext, rows: &[DpoStatsRow]) -> Markup {
    let lang = ctx.lang;
    let department_label =
        |row: &DpoStatsRow| row.department.clone().unwrap_or_else(|| t(lang, Msg::DpoUnknownDepartment).to_owned());
    let body = html! {
        h1 { (t(lang, Msg::DpoStatsTitle)) }
        p { (t(lang, Msg::DpoStatsIntro)) }
        @if rows.is_empty() {
            p.empty-state { (t(lang, Msg::DpoStatsEmpty)) }
        } @else {
            (stats_chart(lang, rows, &department_label))
            div.table-scroll {
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

fn dpo_select_filter(
    lang: Lang,
    name: &str,
    label: Msg,
    options: &[(String, String)],
    selected: &str,
    error: Option<String>,
) -> Markup {
    let id = dpo_filter_id(name);
    let error_id = format!("{id}-error");
    html! {
        div.field.field-has-error[error.is_some()] {
            label for=(id) { (t(lang, label)) }
            @if let Some(error) = &error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            select id=(id) name=(name)
                aria-invalid=[error.is_some().then_some("true")]
                aria-describedby=[error.is_some().then_some(&error_id)] {
                option value="" { (t(lang, Msg::DpoAnyOption)) }
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
        }
    }
}

const CHART_WIDTH: usize = 720;
const CHART_LABEL_WIDTH: usize = 280;
const CHART_BAR_AREA: usize = 380;
const CHART_ROW_HEIGHT: usize = 28;

/// A horizontal bar chart of granted accesses. `role="img"` with a title and
/// a description makes it one image to screen readers; the table below
/// carries the same numbers for everyone.
fn stats_chart(lang: Lang, rows: &[DpoStatsRow], department_label: &dyn Fn(&DpoStatsRow) -> String) -> Markup {
    let max = rows.iter().map(|row| row.granted).max().unwrap_or(0).max(1);
    let height = rows.len() * CHART_ROW_HEIGHT + 8;
    let total: u64 = rows.iter().map(|row| row.granted).sum();
    html! {
        figure.dpo-chart {
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="stats-chart-title stats-chart-desc"
                viewBox=(format!("0 0 {CHART_WIDTH} {height}")) width="100%" {
                title #stats-chart-title { (t(lang, Msg::DpoStatsChartTitle)) }
                desc #stats-chart-desc { (i18n::stats_chart_summary(lang, rows.len(), total, max)) }
                @for (index, row) in rows.iter().enumerate() {
                    @let top = index * CHART_ROW_HEIGHT + 4;
                    // Bars scale to the largest month; a count of 0 has no bar.
                    @let width = usize::try_from(row.granted.saturating_mul(CHART_BAR_AREA as u64) / max).unwrap_or(CHART_BAR_AREA);
                    g.bar {
                        text x="0" y=(top + 18) fill="#1a1a1a" font-size="14" {
                            (department_label(row)) " · " (row.month)
                        }
                        rect x=(CHART_LABEL_WIDTH) y=(top + 4) width=(width) height="20" fill="#1f5fa8" {}
                        text.bar-value x=(CHART_LABEL_WIDTH + width + 6) y=(top + 18) fill="#1a1a1a" font-size="14" {
                            (row.granted)
                        }
                    }
                }
            }
        }
    }
}

fn staff_login_href(path: &str) -> String {
    let local = if path.starts_with("/dpo") && !path.starts_with("//") { path } else { "/dpo" };
    let encoded: String = url::form_urlencoded::byte_serialize(local.as_bytes()).collect();
    format!("/staff/login?return_to={encoded}")
}
