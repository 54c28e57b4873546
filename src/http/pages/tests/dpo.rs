//! The data-protection officers' pages.

use super::*;

pub(super) fn stats_view(rows: Vec<DpoStatsRow>) -> DpoStatsView {
    DpoStatsView {
        kept_filters: Vec::new(),
        rows,
        periods: vec![("3".to_owned(), "Last 3 months".to_owned()), ("all".to_owned(), "All months".to_owned())],
        period: "3".to_owned(),
        shown: Some("Shown: March 2026 to May 2026.".to_owned()),
        filter_error: None,
    }
}

fn query_view(rows: Vec<DpoEntryRow>) -> DpoQueryView {
    DpoQueryView {
        filter: DpoFilterValues::default(),
        actions: vec![("release".to_owned(), "Data given to an office".to_owned())],
        departments: vec![("wohngeldstelle".to_owned(), "Housing Benefit Office".to_owned())],
        services: vec![("housing_benefit".to_owned(), "Housing benefit (rent subsidy)".to_owned())],
        filter_error: None,
        rows,
        next_href: None,
        export_query: String::new(),
        oldest_first: false,
    }
}

fn entry_row() -> DpoEntryRow {
    DpoEntryRow {
        sequence: 1,
        time: date(),
        actor: "Housing Benefit Office".to_owned(),
        actor_id: None,
        action: "Data given to an office".to_owned(),
        outcome: "refused".to_owned(),
        subject: Some("0123456789abcdef0123456789abcdef".to_owned()),
        department: Some("Housing Benefit Office".to_owned()),
        service: Some("Housing benefit (rent subsidy)".to_owned()),
        reason: None,
    }
}

#[test]
fn dpo_pages_escape_stored_values_and_label_the_chart() {
    let ctx = context(Lang::En, false, false);
    let rows =
        vec![DpoStatsRow { department: Some(EVIL.to_owned()), month: "May 2026".to_owned(), granted: 4, refused: 1 }];
    let html = dpo_stats_page(&ctx, &stats_view(rows)).into_string();
    assert!(!html.contains(EVIL), "{html}");
    assert!(html.contains(
        "<figure class=\"dpo-chart\" aria-labelledby=\"stats-chart-title\" aria-describedby=\"stats-chart-desc\">"
    ));
    assert!(html.contains("<span class=\"chart-bar bar-100\"></span>"), "the largest bar is full: {html}");
    assert!(html.contains("<td>May 2026</td><td class=\"number\">4</td><td class=\"number\">1</td>"), "{html}");
    let mut view = query_view(vec![DpoEntryRow {
        actor: EVIL.to_owned(),
        actor_id: Some(EVIL.to_owned()),
        department: Some(EVIL.to_owned()),
        subject: Some(EVIL.to_owned()),
        reason: Some(EVIL.to_owned()),
        ..entry_row()
    }]);
    view.filter.department = EVIL.to_owned();
    view.export_query = "a=1&b=2".to_owned();
    let html = dpo_query_page(&ctx, &view).into_string();
    assert!(!html.contains(EVIL), "{html}");
    assert!(html.contains("href=\"/dpo/export.csv?a=1&amp;b=2\""), "{html}");
    // The citizens' navigation is not on staff pages; the staff logout is.
    assert!(!html.contains("/account/erase") && html.contains("action=\"/staff/logout\""), "{html}");
}

#[test]
fn dpo_results_show_names_and_words_with_short_ids() {
    let ctx = context(Lang::En, false, false);
    let citizen = "0123456789abcdef0123456789abcdef";
    let staff = EntryRowStaff::row();
    let html = dpo_query_page(&ctx, &query_view(vec![entry_row(), staff])).into_string();
    assert!(html.contains("<td>Housing Benefit Office</td><td>Data given to an office</td><td>refused</td>"), "{html}");
    assert!(html.contains("<caption>Matching entries, newest first</caption>"), "{html}");
    let oldest_first = DpoQueryView { oldest_first: true, ..query_view(vec![entry_row()]) };
    let oldest_first = dpo_query_page(&ctx, &oldest_first).into_string();
    assert!(oldest_first.contains("<caption>Matching entries, oldest first</caption>"), "{oldest_first}");
    assert!(html.contains("<td>Housing benefit (rent subsidy)</td>"), "{html}");
    // The subject: shortened, the whole id in its title and in the link that filters by it.
    assert!(
        html.contains(&format!(
            "<a href=\"/dpo?citizen={citizen}&amp;lang=en\"><code title=\"{citizen}\">01234567…</code></a>"
        )),
        "{html}"
    );
    assert!(
        html.contains(
            "<td>City data protection <code title=\"fedcba9876543210fedcba9876543210\">fedcba98…</code></td>"
        ),
        "{html}"
    );
    let (_, table) = html.split_once("<tbody>").expect("a results table");
    assert!(!table.contains("release") && !table.contains("housing_benefit"), "no internal codes: {table}");
}

struct EntryRowStaff;

impl EntryRowStaff {
    fn row() -> DpoEntryRow {
        DpoEntryRow {
            sequence: 2,
            actor: "City data protection".to_owned(),
            actor_id: Some("fedcba9876543210fedcba9876543210".to_owned()),
            action: "Log queried by data protection".to_owned(),
            outcome: "success".to_owned(),
            subject: None,
            department: None,
            service: None,
            ..entry_row()
        }
    }
}

#[test]
fn dpo_filters_offer_the_known_choices_by_name_and_keep_a_typed_value() {
    let ctx = context(Lang::En, false, false);
    let html = dpo_query_page(&ctx, &query_view(Vec::new())).into_string();
    assert!(
        html.contains(
            "<select id=\"dpo-filter-department\" name=\"department\"><option value=\"\">All</option><option value=\"wohngeldstelle\">Housing Benefit Office</option></select>"
        ),
        "{html}"
    );
    assert!(html.contains("<option value=\"housing_benefit\">Housing benefit (rent subsidy)</option>"), "{html}");
    assert!(html.contains("<option value=\"release\">Data given to an office</option>"), "{html}");
    assert!(html.contains("<option value=\"refused\">refused</option>"), "{html}");
    // The citizen stays a text input, with its hint tied to it.
    assert!(html.contains("aria-describedby=\"dpo-filter-citizen-hint\""), "{html}");
    assert!(html.contains("id=\"dpo-filter-citizen-hint\">The pseudonymous id"), "{html}");
    // A department the policy no longer has (typed into the address) stays chosen, as its id.
    let mut view = query_view(Vec::new());
    view.filter.department = "altes_amt".to_owned();
    view.filter.service = "housing_benefit".to_owned();
    let html = dpo_query_page(&ctx, &view).into_string();
    assert!(html.contains("<option value=\"altes_amt\" selected>altes_amt</option>"), "{html}");
    assert!(html.contains("<option value=\"housing_benefit\" selected>"), "{html}");
}

#[test]
fn dpo_stats_say_which_period_is_shown_and_offer_the_others() {
    let ctx = context(Lang::En, false, false);
    let rows = vec![DpoStatsRow { department: None, month: "May 2026".to_owned(), granted: 0, refused: 2 }];
    let html = dpo_stats_page(&ctx, &stats_view(rows)).into_string();
    assert!(html.contains("<form class=\"dpo-filter\" method=\"get\" action=\"/dpo/stats\">"), "{html}");
    assert!(
        html.contains("<option value=\"3\" selected>Last 3 months</option><option value=\"all\">All months</option>"),
        "{html}"
    );
    assert!(!html.contains("<option value=\"\">"), "the period has no 'all' of the filters: {html}");
    assert!(html.contains("<strong>Shown: March 2026 to May 2026.</strong>"), "{html}");
    assert!(html.contains("<th scope=\"row\">no department</th><td>May 2026</td>"), "{html}");
    let empty = dpo_stats_page(&ctx, &stats_view(Vec::new())).into_string();
    assert!(empty.contains("There were no accesses in this period.") && !empty.contains("<svg"), "{empty}");
    // A refused period: the message at the control, no numbers.
    let refused = DpoStatsView {
        kept_filters: Vec::new(),
        period: String::new(),
        shown: None,
        filter_error: Some(("period".to_owned(), "Please choose one of the offered periods.".to_owned())),
        ..stats_view(Vec::new())
    };
    let html = dpo_stats_page(&ctx, &refused).into_string();
    assert!(html.contains("href=\"#dpo-filter-period\"") && html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("Please choose one of the offered periods.") && !html.contains("Shown:"), "{html}");
    assert!(!html.contains("There were no accesses"), "{html}");
}

#[test]
fn chart_bars_are_steps_of_the_largest_and_never_vanish() {
    use super::super::dpo::bar_step;
    assert_eq!(bar_step(0, 10), 0);
    assert_eq!(bar_step(10, 10), 100);
    assert_eq!(bar_step(5, 10), 50);
    assert_eq!(bar_step(1, 1000), 5, "a count above 0 always shows a bar");
    assert_eq!(bar_step(333, 1000), 35, "to the nearest step");
    assert_eq!(bar_step(u64::MAX, u64::MAX), 100);
}

#[test]
fn the_period_form_keeps_the_other_filters_as_hidden_inputs() {
    let ctx = context(Lang::En, false, false);
    let mut view = stats_view(Vec::new());
    view.kept_filters =
        vec![("department".to_owned(), "kita_amt".to_owned()), ("citizen".to_owned(), "\"><b>".to_owned())];
    let html = dpo_stats_page(&ctx, &view).into_string();
    assert!(html.contains("<input type=\"hidden\" name=\"department\" value=\"kita_amt\">"), "{html}");
    assert!(html.contains("<input type=\"hidden\" name=\"citizen\" value=\"&quot;&gt;&lt;b&gt;\">"), "escaped: {html}");
}
