use chrono::TimeZone;

use super::*;

mod consent;
mod display;
mod dpo;
mod forms;

const TOKEN: &str = "csrf-token-4711";
const EVIL: &str = "<script>alert(1)</script>";

fn context(lang: Lang, dev_mode: bool, logged_in: bool) -> PageContext {
    PageContext {
        lang,
        dev_mode,
        logged_in,
        login_level_label: logged_in.then(|| "hoch".to_owned()),
        csrf_token: logged_in.then(|| TOKEN.to_owned()),
        current_path: "/evidence".to_owned(),
        display: Display::default(),
    }
}

fn date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).single().expect("valid test date")
}

fn field(name: &str, kind: FormFieldKind, required: bool) -> FormField {
    FormField {
        name: name.to_owned(),
        label: format!("Label {name}"),
        kind,
        required,
        value: String::new(),
        error: None,
        date: DateValue::default(),
    }
}

fn upload_form() -> UploadForm {
    UploadForm {
        type_id: "income".to_owned(),
        type_name: "Einkommensnachweis".to_owned(),
        file_allowed: true,
        max_upload_bytes: 10_000_000,
        fields: vec![
            field("employer", FormFieldKind::Text { max_length: 120 }, true),
            field("valid_from", FormFieldKind::Date, true),
            field("net_income", FormFieldKind::Money, true),
            field("children", FormFieldKind::Integer { min: 0, max: 20 }, false),
            field(
                "period",
                FormFieldKind::Enum {
                    options: vec![
                        ("monthly".to_owned(), "Monatlich".to_owned()),
                        ("yearly".to_owned(), "Jährlich".to_owned()),
                    ],
                },
                false,
            ),
        ],
        file_error: None,
        return_to: None,
        general_error: None,
        file_dropped: false,
        session_minutes: 30,
        restored: false,
    }
}

fn upload_form_with_errors() -> UploadForm {
    let mut form = upload_form();
    form.fields[2].value = "abc".to_owned();
    form.fields[2].error = Some("Bitte einen Betrag eingeben.".to_owned());
    form.file_error = Some("Die Datei ist zu groß.".to_owned());
    form
}

fn detail() -> EvidenceDetail {
    EvidenceDetail {
        id: "ev-1".to_owned(),
        type_name: "Meldebescheinigung".to_owned(),
        created_at: date(),
        fields: vec![("Straße".to_owned(), "Hauptstraße 1".to_owned())],
        file: Some(FileInfo {
            name: "meldung.pdf".to_owned(),
            media_type: "application/pdf".to_owned(),
            size: 1_500_000,
        }),
    }
}

fn consent_view() -> ConsentView {
    ConsentView {
        session_minutes: 30,
        request_id: "0123456789abcdef0123456789abcdef".to_owned(),
        department_name: "Wohngeldstelle".to_owned(),
        service_name: "Wohngeld".to_owned(),
        purpose: "Prüfung Ihres Antrags".to_owned(),
        legal_basis: "§ 23 WoGG".to_owned(),
        legal_basis_plain: Some("Das Wohngeldgesetz erlaubt dem Amt, Ihr Einkommen zu prüfen.".to_owned()),
        other_ways: Some("Sie können die Nachweise auch im Bürgerbüro abgeben.".to_owned()),
        contact: Some("Rathaus, Zimmer 12, Telefon 0123 456-0".to_owned()),
        reference: "WG-2026-0815".to_owned(),
        answer_until: date(),
        releases_files: true,
        file_optional: true,
        without_files: false,
        documents: vec![
            ConsentDocument {
                type_id: "income_statement".to_owned(),
                type_name: "Einkommensnachweis".to_owned(),
                fields: vec![
                    ConsentField {
                        reference: "income_statement.net_monthly_income".to_owned(),
                        label: "Nettoeinkommen".to_owned(),
                        checked: true,
                    },
                    ConsentField {
                        reference: "income_statement.household_members".to_owned(),
                        label: "Personen im Haushalt".to_owned(),
                        checked: false,
                    },
                ],
                candidates: vec![
                    ConsentCandidate {
                        evidence_id: "aaaa0000aaaa0000aaaa0000aaaa0000".to_owned(),
                        created_at: date(),
                        values: vec![
                            ("Nettoeinkommen".to_owned(), Some("2100.50".to_owned())),
                            ("Personen im Haushalt".to_owned(), None),
                        ],
                        file: Some(FileInfo {
                            name: "lohn.pdf".to_owned(),
                            media_type: "application/pdf".to_owned(),
                            size: 70_000,
                        }),
                        selected: true,
                    },
                    ConsentCandidate {
                        evidence_id: "bbbb0000bbbb0000bbbb0000bbbb0000".to_owned(),
                        created_at: date() - chrono::Duration::days(40),
                        values: vec![("Nettoeinkommen".to_owned(), Some("1900.00".to_owned()))],
                        file: None,
                        selected: false,
                    },
                ],
                none_selected: false,
            },
            ConsentDocument {
                type_id: "rent_certificate".to_owned(),
                type_name: "Mietbescheinigung".to_owned(),
                fields: vec![ConsentField {
                    reference: "rent_certificate.monthly_rent".to_owned(),
                    label: "Miete".to_owned(),
                    checked: true,
                }],
                candidates: Vec::new(),
                none_selected: true,
            },
        ],
        max_duration_days: 90,
        latest_end: date() + chrono::Duration::days(90),
        duration_options: vec![7, 30, 60, 90],
        selected_duration: 90,
        uses_options: vec![1, 2, 3],
        max_uses: 3,
        selected_uses: 3,
        error: None,
    }
}

fn consent_view_with_error() -> ConsentView {
    let mut view = consent_view();
    view.error = Some(ConsentError {
        message: "Bitte wählen Sie eine Dauer.".to_owned(),
        target: Some("#duration".to_owned()),
    });
    view
}

fn step_up_view() -> StepUpView {
    StepUpView {
        department_name: "Straßenverkehrsbehörde".to_owned(),
        service_name: "Parkausweis".to_owned(),
        required: crate::policy::LoginLevel::High,
        current: crate::policy::LoginLevel::Substantial,
        login_href: "/login?level=high&return_to=%2Frequests%2Fabc".to_owned(),
    }
}

fn grant_items() -> Vec<GrantItem> {
    let active = GrantItem {
        id: "cccc0000cccc0000cccc0000cccc0000".to_owned(),
        department_name: "Wohngeldstelle".to_owned(),
        service_name: "Wohngeld".to_owned(),
        fields: vec![("Einkommensnachweis".to_owned(), vec!["Nettoeinkommen".to_owned(), "Zeitraum".to_owned()])],
        with_files: true,
        files_left_out: false,
        created_at: date(),
        expires_at: date() + chrono::Duration::days(90),
        uses: 1,
        max_uses: 3,
        status: GrantStatusView::Active,
    };
    let revoked = GrantItem {
        id: "dddd0000dddd0000dddd0000dddd0000".to_owned(),
        status: GrantStatusView::Revoked,
        ..active.clone()
    };
    vec![active, revoked]
}

/// Every page in a typical state, rendered with `ctx`.
fn all_pages(ctx: &PageContext) -> Vec<(&'static str, String)> {
    let issuers = [IssuerChoice { name: "bund".to_owned(), label: "BundID".to_owned() }];
    let items = [EvidenceListItem {
        id: "ev-1".to_owned(),
        type_name: "Meldebescheinigung".to_owned(),
        created_at: date(),
        has_file: true,
    }];
    let types = [
        TypeChoice { id: "income".to_owned(), name: "Einkommen".to_owned(), needs_higher_level: false },
        TypeChoice { id: "residence".to_owned(), name: "Wohnsitz".to_owned(), needs_higher_level: true },
    ];
    vec![
        ("start", start_page(ctx, &issuers).into_string()),
        ("list", evidence_list_page(ctx, &items, Some(CitizenNotice::Deleted)).into_string()),
        ("list-empty", evidence_list_page(ctx, &[], None).into_string()),
        ("choose-type", choose_type_page(ctx, &types).into_string()),
        ("upload", upload_form_page(ctx, &upload_form()).into_string()),
        ("upload-errors", upload_form_page(ctx, &upload_form_with_errors()).into_string()),
        ("detail", evidence_detail_page(ctx, &detail(), Some(CitizenNotice::Stored)).into_string()),
        ("delete", delete_confirm_page(ctx, "ev-1", "Meldebescheinigung").into_string()),
        ("erase", erase_account_page(ctx).into_string()),
        ("error", error_page(ctx, 404, "Nicht gefunden", "Diese Seite gibt es nicht.").into_string()),
        ("logged-out", logged_out_page(ctx, false).into_string()),
        ("erased", logged_out_page(ctx, true).into_string()),
        ("consent", consent_page(ctx, &consent_view()).into_string()),
        ("consent-error", consent_page(ctx, &consent_view_with_error()).into_string()),
        ("step-up", step_up_page(ctx, &step_up_view()).into_string()),
        ("request-expired", request_closed_page(ctx, RequestClosed::Expired).into_string()),
        ("request-answered", request_closed_page(ctx, RequestClosed::Answered).into_string()),
        ("request-not-found", request_closed_page(ctx, RequestClosed::NotFound).into_string()),
        ("grants", grants_page(ctx, &grant_items(), Some(GrantsNotice::Approved)).into_string()),
        ("grants-empty", grants_page(ctx, &[], None).into_string()),
        ("revoke-confirm", revoke_confirm_page(ctx, &grant_items()[0]).into_string()),
        ("consent-summary", consent_summary_page(ctx, &consent::summary_view()).into_string()),
    ]
}

/// Every combination of language, dev mode and login state.
fn all_contexts() -> Vec<PageContext> {
    let mut contexts = Vec::new();
    for lang in ALL_LANGS {
        for dev_mode in [false, true] {
            for logged_in in [false, true] {
                contexts.push(context(lang, dev_mode, logged_in));
            }
        }
    }
    contexts
}

/// Start tags `<name ...>` in rendered HTML. Attribute values come out of
/// maud escaped, so they never contain a raw `>` or `"`.
fn start_tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(position) = rest.find(&open) {
        let candidate = &rest[position..];
        let end = candidate.find('>').expect("tag is closed");
        if matches!(candidate.as_bytes().get(open.len()), Some(b' ' | b'>' | b'/')) {
            tags.push(&candidate[..=end]);
        }
        rest = &candidate[end + 1..];
    }
    tags
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let length = tag[start..].find('"')?;
    Some(&tag[start..start + length])
}

fn has_flag(tag: &str, name: &str) -> bool {
    let key = format!(" {name}");
    tag.match_indices(&key)
        .any(|(index, _)| matches!(tag.as_bytes().get(index + key.len()), Some(b' ' | b'>' | b'/' | b'=')))
}

/// The HTML of each `<form ...>...</form>`.
fn forms(html: &str) -> Vec<&str> {
    html.match_indices("<form")
        .map(|(start, _)| {
            let end = html[start..].find("</form>").expect("form is closed");
            &html[start..start + end]
        })
        .collect()
}

fn title(html: &str) -> &str {
    let start = html.find("<title>").expect("has a title") + "<title>".len();
    let end = html.find("</title>").expect("title is closed");
    &html[start..end]
}

#[test]
fn every_page_declares_its_language() {
    for ctx in all_contexts() {
        let expected = format!("<html lang=\"{}\">", lang_code(ctx.lang));
        for (page, html) in all_pages(&ctx) {
            assert!(html.starts_with("<!DOCTYPE html>"), "{page}");
            assert!(html.contains(&expected), "{page} lacks {expected}");
        }
    }
}

#[test]
fn every_page_has_skip_link_main_landmark_one_h1_and_a_specific_title() {
    for ctx in all_contexts() {
        for (page, html) in all_pages(&ctx) {
            assert!(html.contains("<meta charset=\"utf-8\">"), "{page}");
            assert!(html.contains("name=\"viewport\""), "{page}");
            assert!(html.contains("<link rel=\"stylesheet\" href=\"/static/style.css\">"), "{page}");
            assert!(html.contains("<a class=\"skip-link\" href=\"#main\">"), "{page}");
            assert_eq!(start_tags(&html, "main").len(), 1, "{page}");
            assert_eq!(attribute(start_tags(&html, "main")[0], "id"), Some("main"), "{page}");
            assert_eq!(start_tags(&html, "h1").len(), 1, "{page} needs exactly one h1");
            let page_title = title(&html);
            assert!(page_title.ends_with(" – tresor") && page_title.len() > " – tresor".len(), "{page}");
        }
    }
    let ctx = context(Lang::De, false, true);
    assert_eq!(title(&evidence_list_page(&ctx, &[], None).into_string()), "Meine Nachweise – tresor");
}

#[test]
fn every_input_and_select_has_a_matching_label() {
    for ctx in all_contexts() {
        for (page, html) in all_pages(&ctx) {
            let labelled_ids: Vec<&str> =
                start_tags(&html, "label").iter().filter_map(|tag| attribute(tag, "for")).collect();
            let mut control_ids = Vec::new();
            let controls = start_tags(&html, "input").into_iter().chain(start_tags(&html, "select"));
            for tag in controls {
                if matches!(attribute(tag, "type"), Some("hidden" | "submit")) {
                    continue;
                }
                let id = attribute(tag, "id").unwrap_or_else(|| panic!("{page}: control without id: {tag}"));
                assert!(labelled_ids.contains(&id), "{page}: no <label for=\"{id}\">");
                assert!(!control_ids.contains(&id), "{page}: duplicate id {id}");
                control_ids.push(id);
            }
            for id in labelled_ids {
                assert!(control_ids.contains(&id), "{page}: label for missing control {id}");
            }
        }
    }
}

#[test]
fn dev_banner_is_on_every_page_in_both_languages_iff_dev_mode() {
    for ctx in all_contexts() {
        for (page, html) in all_pages(&ctx) {
            let banners = html.matches("class=\"dev-banner\" role=\"note\"").count();
            assert_eq!(banners, usize::from(ctx.dev_mode), "{page}");
            assert_eq!(html.contains("Development mode – test logins"), ctx.dev_mode, "{page}");
            assert_eq!(html.contains("Entwicklungsmodus"), ctx.dev_mode, "{page}");
        }
    }
}

#[test]
fn every_post_form_carries_the_csrf_token() {
    let mut post_forms = 0;
    for ctx in all_contexts() {
        for (page, html) in all_pages(&ctx) {
            for form in forms(&html) {
                let form_tag = start_tags(form, "form")[0];
                if attribute(form_tag, "method") != Some("post") {
                    continue;
                }
                post_forms += 1;
                let csrf_inputs: Vec<&str> = start_tags(form, "input")
                    .into_iter()
                    .filter(|tag| attribute(tag, "name") == Some("csrf"))
                    .collect();
                assert_eq!(csrf_inputs.len(), 1, "{page}: {form_tag}");
                assert_eq!(attribute(csrf_inputs[0], "type"), Some("hidden"), "{page}");
                let expected = ctx.csrf_token.as_deref().unwrap_or_default();
                assert_eq!(attribute(csrf_inputs[0], "value"), Some(expected), "{page}");
            }
        }
    }
    assert!(post_forms > 0);
}

#[test]
fn logout_is_a_post_button_shown_only_when_logged_in() {
    for ctx in all_contexts() {
        let html = start_page(&ctx, &[]).into_string();
        let logout_form = forms(&html).into_iter().find(|form| form.contains("action=\"/logout\""));
        assert_eq!(logout_form.is_some(), ctx.logged_in);
        if let Some(form) = logout_form {
            assert_eq!(attribute(start_tags(form, "form")[0], "method"), Some("post"));
            assert!(form.contains("<button"));
            assert!(html.contains("aria-label=\"Hauptmenü\"") || html.contains("aria-label=\"Main menu\""));
        }
    }
}

#[test]
fn navigation_marks_the_current_page() {
    let html = evidence_list_page(&context(Lang::En, false, true), &[], None).into_string();
    assert!(html.contains("<a href=\"/evidence\" aria-current=\"page\">My evidence</a>"));
    assert!(html.contains("<a href=\"/evidence/new\">Add evidence</a>"));
    assert!(html.contains("Security level: hoch"));
}

#[test]
fn upload_form_with_errors_shows_a_linked_summary_and_marks_fields_invalid() {
    let html = upload_form_page(&context(Lang::De, false, true), &upload_form_with_errors()).into_string();
    assert!(title(&html).starts_with("Fehler: "));
    let summary_start = html.find("class=\"error-summary\" role=\"alert\"").expect("error summary");
    assert!(summary_start < html.find("<h1").expect("h1"), "summary comes first");
    assert!(html.contains("<h2 id=\"error-summary-title\">Bitte prüfen Sie Ihre Angaben</h2>"));
    assert!(html.contains("<a href=\"#field-net_income\">Label net_income: Bitte einen Betrag eingeben.</a>"));
    assert!(html.contains("<a href=\"#upload-file\">Datei: Die Datei ist zu groß.</a>"));

    let inputs = start_tags(&html, "input");
    let money = inputs.iter().find(|tag| attribute(tag, "id") == Some("field-net_income")).expect("money input");
    assert_eq!(attribute(money, "aria-invalid"), Some("true"));
    assert_eq!(attribute(money, "value"), Some("abc"), "entered value is kept");
    let described_by = attribute(money, "aria-describedby").expect("described");
    assert!(described_by.split(' ').any(|id| id == "field-net_income-error"));
    assert!(html.contains("id=\"field-net_income-error\"><strong>Fehler:</strong> Bitte einen Betrag eingeben."));

    let file = inputs.iter().find(|tag| attribute(tag, "type") == Some("file")).expect("file input");
    assert_eq!(attribute(file, "aria-invalid"), Some("true"));
    assert!(attribute(file, "aria-describedby").expect("described").contains("upload-file-error"));

    let valid = inputs.iter().find(|tag| attribute(tag, "id") == Some("field-employer")).expect("text input");
    assert_eq!(attribute(valid, "aria-invalid"), None, "only fields with errors are invalid");
}

#[test]
fn upload_form_without_errors_has_no_summary_and_nothing_invalid() {
    let html = upload_form_page(&context(Lang::En, false, true), &upload_form()).into_string();
    assert!(!html.contains("error-summary"));
    assert!(!html.contains("aria-invalid"));
    assert!(!title(&html).starts_with("Error"));
}

#[test]
fn file_error_without_file_input_is_listed_as_plain_text() {
    let mut form = upload_form_with_errors();
    form.file_allowed = false;
    let html = upload_form_page(&context(Lang::En, false, true), &form).into_string();
    assert!(!html.contains("type=\"file\""));
    assert!(!html.contains("href=\"#upload-file\""));
    assert!(html.contains("<li>File: Die Datei ist zu groß.</li>"));
}

#[test]
fn upload_form_renders_the_right_control_for_each_field_kind() {
    let html = upload_form_page(&context(Lang::De, false, true), &upload_form()).into_string();
    let form_tag = start_tags(&html, "form").into_iter().find(|tag| tag.contains("/evidence\"")).expect("form");
    assert_eq!(attribute(form_tag, "method"), Some("post"));
    assert_eq!(attribute(form_tag, "action"), Some("/evidence"));
    assert_eq!(attribute(form_tag, "enctype"), Some("multipart/form-data"));
    let inputs = start_tags(&html, "input");
    let by_name = |name: &str| {
        *inputs.iter().find(|tag| attribute(tag, "name") == Some(name)).unwrap_or_else(|| panic!("no input {name}"))
    };

    assert_eq!(attribute(by_name("type"), "type"), Some("hidden"));
    assert_eq!(attribute(by_name("type"), "value"), Some("income"));

    let text = by_name("field.employer");
    assert_eq!(attribute(text, "maxlength"), Some("120"));
    assert!(has_flag(text, "required"));

    // A date is three numeric text fields (see `tests/forms.rs`).
    assert_eq!(attribute(by_name("field.valid_from.day"), "inputmode"), Some("numeric"));
    assert!(html.contains("Zum Beispiel 27 3 2007"));

    assert_eq!(attribute(by_name("field.net_income"), "inputmode"), Some("decimal"));
    assert!(html.contains("Betrag in Euro (EUR)"));

    let integer = by_name("field.children");
    assert_eq!(attribute(integer, "type"), Some("number"));
    assert_eq!(attribute(integer, "min"), Some("0"));
    assert_eq!(attribute(integer, "max"), Some("20"));
    assert!(!has_flag(integer, "required"));

    let select = start_tags(&html, "select")[0];
    assert_eq!(attribute(select, "name"), Some("field.period"));
    assert!(html.contains("<option value=\"monthly\">Monatlich</option>"));

    let file = by_name("file");
    assert_eq!(attribute(file, "type"), Some("file"));
    assert_eq!(attribute(file, "accept"), Some(ACCEPTED_FILE_TYPES));
    assert!(html.contains("Erlaubt sind PDF, PNG und JPEG. Die Datei darf höchstens 10 MB groß sein."));

    // Required is said in words, not only by colour or an asterisk.
    assert_eq!(html.matches("<span class=\"required-marker\">(Pflichtfeld)</span>").count(), 3);
    assert!(html.contains("<button type=\"submit\">Nachweis speichern</button>"));
}

#[test]
fn enum_field_keeps_the_previous_choice() {
    let mut form = upload_form();
    form.fields[4].value = "yearly".to_owned();
    let html = upload_form_page(&context(Lang::De, false, true), &form).into_string();
    assert!(html.contains("<option value=\"yearly\" selected>Jährlich</option>"));
    assert!(html.contains("<option value=\"monthly\">Monatlich</option>"));
}

#[test]
fn user_supplied_strings_are_escaped_everywhere() {
    let mut ctx = context(Lang::De, true, true);
    ctx.login_level_label = Some(EVIL.to_owned());
    ctx.current_path = format!("/evidence?x={EVIL}");
    let issuers = [IssuerChoice { name: EVIL.to_owned(), label: EVIL.to_owned() }];
    let items =
        [EvidenceListItem { id: EVIL.to_owned(), type_name: EVIL.to_owned(), created_at: date(), has_file: false }];
    let types = [TypeChoice { id: EVIL.to_owned(), name: EVIL.to_owned(), needs_higher_level: true }];
    let mut form = upload_form_with_errors();
    form.type_id = EVIL.to_owned();
    form.type_name = EVIL.to_owned();
    form.file_error = Some(EVIL.to_owned());
    for field in &mut form.fields {
        field.label = EVIL.to_owned();
        field.value = EVIL.to_owned();
        field.error = Some(EVIL.to_owned());
    }
    form.fields[4].kind = FormFieldKind::Enum { options: vec![(EVIL.to_owned(), EVIL.to_owned())] };
    let mut evil_detail = detail();
    evil_detail.id = EVIL.to_owned();
    evil_detail.type_name = EVIL.to_owned();
    evil_detail.fields = vec![(EVIL.to_owned(), EVIL.to_owned())];
    evil_detail.file = Some(FileInfo { name: EVIL.to_owned(), media_type: EVIL.to_owned(), size: 1 });
    let mut logged_out = ctx.clone();
    logged_out.logged_in = false;
    let pages = [
        start_page(&logged_out, &issuers),
        evidence_list_page(&ctx, &items, None),
        choose_type_page(&ctx, &types),
        upload_form_page(&ctx, &form),
        evidence_detail_page(&ctx, &evil_detail, None),
        delete_confirm_page(&ctx, EVIL, EVIL),
        error_page(&ctx, 400, EVIL, EVIL),
    ];
    for html in pages.map(maud::Markup::into_string) {
        assert!(!html.contains("<script"), "unescaped script in {html}");
        assert!(html.contains("&lt;script&gt;"), "user text missing from {html}");
    }
}

#[test]
fn ids_in_urls_are_percent_encoded() {
    let ctx = context(Lang::De, false, true);
    let html = delete_confirm_page(&ctx, "a/b c?", "Typ").into_string();
    assert!(html.contains("action=\"/evidence/a%2Fb%20c%3F/delete\""));
    let html = start_page(
        &context(Lang::De, false, false),
        &[IssuerChoice { name: "a&b c".to_owned(), label: "X".to_owned() }],
    )
    .into_string();
    assert!(html.contains("href=\"/login?issuer=a%26b+c\""));
}

#[test]
fn german_and_english_render_different_text() {
    let german = all_pages(&context(Lang::De, false, true));
    let english = all_pages(&context(Lang::En, false, true));
    for ((page, de), (_, en)) in german.iter().zip(&english) {
        assert_ne!(de, en, "{page}");
    }
    let (de, en) = (&german[1].1, &english[1].1);
    assert!(de.contains("Meine Nachweise") && !de.contains("My evidence"));
    assert!(en.contains("My evidence") && !en.contains("Meine Nachweise"));
    assert!(de.contains("23.11.2026") && en.contains("23 November 2026"));
}

#[test]
fn language_switch_links_to_the_same_page_and_marks_the_current_language() {
    let mut ctx = context(Lang::En, false, true);
    ctx.current_path = "/evidence/new?type=income&lang=de".to_owned();
    let html = choose_type_page(&ctx, &[]).into_string();
    assert!(html.contains("<a href=\"/evidence/new?type=income&amp;lang=de\" hreflang=\"de\" lang=\"de\">Deutsch</a>"));
    assert!(html.contains(
        "<a href=\"/evidence/new?type=income&amp;lang=en\" hreflang=\"en\" lang=\"en\" aria-current=\"true\">English</a>"
    ));
}

#[test]
fn language_switch_never_points_to_another_site() {
    for hostile in ["//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/\\evil.example", ""] {
        assert_eq!(language_switch_href(hostile, Lang::De), "/?lang=de", "{hostile}");
    }
    assert_eq!(language_switch_href("/evidence#top", Lang::En), "/evidence?lang=en");
}

#[test]
fn no_javascript_on_any_page() {
    for ctx in all_contexts() {
        for (page, html) in all_pages(&ctx) {
            let lower = html.to_ascii_lowercase();
            assert!(!lower.contains("<script"), "{page}");
            assert!(!lower.contains("javascript:"), "{page}");
            assert!(
                !lower.contains(" onclick") && !lower.contains(" onsubmit") && !lower.contains(" onload"),
                "{page}"
            );
        }
    }
}

#[test]
fn start_page_offers_one_login_link_per_issuer_or_a_link_to_the_evidence() {
    let issuers = [
        IssuerChoice { name: "bund".to_owned(), label: "BundID".to_owned() },
        IssuerChoice { name: "test".to_owned(), label: "Test-Ausweis".to_owned() },
    ];
    let html = start_page(&context(Lang::En, false, false), &issuers).into_string();
    assert!(html.contains("<a class=\"button\" href=\"/login?issuer=bund\">Log in with your online ID (BundID)</a>"));
    assert!(html.contains("href=\"/login?issuer=test\""));
    assert!(!html.contains("href=\"/evidence\""));

    let html = start_page(&context(Lang::En, false, true), &issuers).into_string();
    assert!(!html.contains("/login?issuer="));
    assert!(html.contains("<a class=\"button\" href=\"/evidence\">Go to my evidence</a>"));

    let html = start_page(&context(Lang::De, false, false), &[]).into_string();
    assert!(html.contains(t(Lang::De, Msg::LoginUnavailable)));
}

#[test]
fn consent_page_shows_who_why_the_values_and_a_choice_per_document() {
    let html = consent_page(&context(Lang::De, false, true), &consent_view()).into_string();
    for text in
        ["Wohngeldstelle bittet um Ihre Daten", "Wohngeld", "Prüfung Ihres Antrags", "§ 23 WoGG", "WG-2026-0815"]
    {
        assert!(html.contains(text), "{text} missing");
    }
    // The very values, per document, and the file that goes along.
    assert!(html.contains("<dd>2100.50</dd>") && html.contains("<dd>1900.00</dd>"));
    assert!(html.contains("(nicht angegeben)"));
    assert!(html.contains("Die Datei „lohn.pdf“ (PDF, 70 kB) bekommt das Amt auch."));
    let form = forms(&html).into_iter().find(|form| form.contains("action=\"/requests/")).expect("consent form");
    assert_eq!(attribute(start_tags(form, "form")[0], "method"), Some("post"));
    let inputs = start_tags(form, "input");
    let radios: Vec<&&str> = inputs.iter().filter(|tag| attribute(tag, "type") == Some("radio")).collect();
    assert_eq!(radios.len(), 3, "two documents and \"do not share\"");
    assert!(radios.iter().all(|tag| attribute(tag, "name") == Some("doc.income_statement")));
    assert!(has_flag(radios[0], "checked") && !has_flag(radios[1], "checked") && !has_flag(radios[2], "checked"));
    assert_eq!(attribute(radios[2], "value"), Some("none"));
    assert_eq!(attribute(radios[0], "aria-describedby"), Some("doc-0-0-values"));
    assert!(html.contains("id=\"doc-0-0-values\""));
    let boxes: Vec<&&str> = inputs
        .iter()
        .filter(|tag| attribute(tag, "type") == Some("checkbox") && attribute(tag, "name") == Some("field"))
        .collect();
    assert_eq!(boxes.len(), 2, "no checkbox for a type without a document");
    assert_eq!(attribute(boxes[0], "name"), Some("field"));
    assert_eq!(attribute(boxes[0], "value"), Some("income_statement.net_monthly_income"));
    assert!(has_flag(boxes[0], "checked") && !has_flag(boxes[1], "checked"));
    // A type without a document: said plainly, with a link to add one.
    assert!(html.contains("Sie haben noch kein Dokument dieser Art gespeichert."));
    assert!(html.contains(
        "href=\"/evidence/new?type=rent_certificate&amp;return_to=%2Frequests%2F0123456789abcdef0123456789abcdef\""
    ));
    // Limits: the maximum is preselected.
    assert!(html.contains("<option value=\"90\" selected>90 Tage</option>"));
    assert!(html.contains("<option value=\"3\" selected>3 Mal</option>"));
    assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"review\">Weiter</button>"));
    assert!(html.contains("name=\"decision\" value=\"deny\">Ablehnen</button>"));
    assert!(!html.contains("error-summary"));
}

#[test]
fn consent_page_explains_the_law_what_denying_means_and_whom_to_ask() {
    let html = consent_page(&context(Lang::De, false, true), &consent_view()).into_string();
    let plain = html.find("Das Wohngeldgesetz erlaubt dem Amt").expect("the plain sentence");
    let citation = html.find("<p class=\"citation\">§ 23 WoGG</p>").expect("the citation");
    assert!(plain < citation, "the plain sentence comes first");
    assert!(
        html.contains("<dt>So erreichen Sie das Amt</dt><dd>Rathaus, Zimmer 12, Telefon 0123 456-0</dd>"),
        "{html}"
    );
    let deny = html.find("<h2 id=\"if-you-deny\">Wenn Sie ablehnen</h2>").expect("what denying means");
    assert!(html[deny..].contains("Sie können die Nachweise auch im Bürgerbüro abgeben."));
    assert!(deny < html.find("value=\"deny\"").expect("the deny button"), "explained before the button");
}

#[test]
fn consent_page_with_an_error_puts_a_linked_summary_first() {
    let html = consent_page(&context(Lang::En, false, true), &consent_view_with_error()).into_string();
    assert!(title(&html).starts_with("Error: "));
    let summary = html.find("class=\"error-summary\" role=\"alert\"").expect("summary");
    assert!(summary < html.find("<h1").expect("h1"));
    assert!(html.contains("<a href=\"#duration\">Which data do you want to share?: Bitte wählen Sie eine Dauer.</a>"));
}

#[test]
fn step_up_page_links_to_the_higher_login_and_shows_no_values() {
    let html = step_up_page(&context(Lang::De, false, true), &step_up_view()).into_string();
    assert!(html.contains("href=\"/login?level=high&amp;return_to=%2Frequests%2Fabc\""));
    assert!(html.contains("Sicherheitsniveau „hoch (Online-Ausweis)“"));
    assert!(html.contains("mit „substanziell“ angemeldet"));
    assert!(html.contains("Online-Ausweis"));
    assert!(forms(&html).iter().all(|form| !form.contains("/requests/")));
}

#[test]
fn grants_page_offers_revoke_only_for_active_grants() {
    let html = grants_page(&context(Lang::En, false, true), &grant_items(), Some(GrantsNotice::Revoked)).into_string();
    assert!(html.contains("You took back your approval."));
    assert!(html.contains("Wohngeldstelle: Wohngeld"));
    assert!(html.contains("Einkommensnachweis: Nettoeinkommen, Zeitraum"));
    assert!(html.contains("1 of 3"));
    assert!(html.contains("<strong>active</strong>") && html.contains("<strong>revoked</strong>"));
    assert!(html.contains("The office also gets the file of each chosen document."));
    // Revoking asks first: a link to the confirmation, for active grants only.
    assert!(forms(&html).into_iter().all(|form| !form.contains("/revoke")), "no revoke at once: {html}");
    assert_eq!(html.matches("/revoke\"").count(), 1);
    assert!(
        html.contains(
            "href=\"/grants/cccc0000cccc0000cccc0000cccc0000/revoke\" aria-describedby=\"grant-0\">Revoke now</a>"
        ),
        "{html}"
    );
    let empty = grants_page(&context(Lang::De, false, true), &[], None).into_string();
    assert!(empty.contains("Sie haben noch keine Daten freigegeben.") && !empty.contains("role=\"status\""));
}

#[test]
fn revoking_asks_first_and_says_what_stays_with_the_office() {
    let items = grant_items();
    let html = revoke_confirm_page(&context(Lang::De, false, true), &items[0]).into_string();
    assert!(html.contains("<h1>Freigabe zurücknehmen?</h1>"));
    assert!(html.contains("Danach kann Wohngeldstelle diese Daten nicht mehr abrufen."));
    assert!(html.contains("Was das Amt schon abgerufen hat, bleibt beim Amt."));
    let form = forms(&html).into_iter().find(|form| form.contains("/revoke")).expect("the revoke form");
    assert!(form.contains("action=\"/grants/cccc0000cccc0000cccc0000cccc0000/revoke\""));
    assert!(form.contains(&format!("name=\"csrf\" value=\"{TOKEN}\"")));
    assert!(html.contains("<a href=\"/grants\">Nein, Freigabe behalten</a>"));
}

#[test]
fn request_closed_pages_say_why_in_words() {
    let ctx = context(Lang::De, false, false);
    let expired = request_closed_page(&ctx, RequestClosed::Expired).into_string();
    assert!(expired.contains("Diese Anfrage ist abgelaufen") && expired.contains("410"));
    let answered = request_closed_page(&ctx, RequestClosed::Answered).into_string();
    assert!(answered.contains("schon beantwortet") && answered.contains("409"));
    let unknown = request_closed_page(&ctx, RequestClosed::NotFound).into_string();
    assert!(unknown.contains("Diese Anfrage gibt es nicht") && unknown.contains("404"));
}

#[test]
fn consent_and_grants_escape_stored_values() {
    let ctx = context(Lang::De, false, true);
    let mut view = consent_view_with_error();
    view.department_name = EVIL.to_owned();
    view.reference = EVIL.to_owned();
    view.documents[0].candidates[0].values[0].1 = Some(EVIL.to_owned());
    view.documents[0].candidates[0].file.as_mut().expect("file").name = EVIL.to_owned();
    view.error.as_mut().expect("error").message = EVIL.to_owned();
    let mut items = grant_items();
    items[0].service_name = EVIL.to_owned();
    items[0].fields[0].1[0] = EVIL.to_owned();
    for html in [consent_page(&ctx, &view), grants_page(&ctx, &items, None)].map(maud::Markup::into_string) {
        assert!(!html.contains("<script"), "unescaped script in {html}");
        assert!(html.contains("&lt;script&gt;"));
    }
}

#[test]
fn confirmations_are_announced_after_upload_delete_and_erasure() {
    let ctx = context(Lang::De, false, true);
    let stored = evidence_detail_page(&ctx, &detail(), Some(CitizenNotice::Stored)).into_string();
    assert!(stored.contains("<div class=\"notice\" role=\"status\"><p>Ihr Nachweis ist gespeichert."), "{stored}");
    let plain = evidence_detail_page(&ctx, &detail(), None).into_string();
    assert!(!plain.contains("role=\"status\""));
    let en = context(Lang::En, false, false);
    let erased = logged_out_page(&en, true).into_string();
    assert!(erased.contains("<h1>Your account is deleted</h1>"), "{erased}");
    assert!(erased.contains("role=\"status\"><p>Your key is destroyed."), "{erased}");
    assert_eq!(title(&erased), "Your account is deleted – tresor");
    let logged_out = logged_out_page(&en, false).into_string();
    assert!(!logged_out.contains("role=\"status\"") && !logged_out.contains("deleted"), "{logged_out}");
}

#[test]
fn evidence_list_is_a_captioned_table_or_an_empty_state() {
    let ctx = context(Lang::De, false, true);
    let items =
        [EvidenceListItem { id: "ev-1".to_owned(), type_name: "Melde".to_owned(), created_at: date(), has_file: true }];
    let html = evidence_list_page(&ctx, &items, Some(CitizenNotice::Deleted)).into_string();
    assert!(html.contains("<caption>Ihre gespeicherten Nachweise</caption>"));
    assert_eq!(html.matches("<th scope=\"col\">").count(), 3);
    assert!(
        html.contains("<th scope=\"row\" data-label=\"Art des Nachweises\"><a href=\"/evidence/ev-1\">Melde</a></th>"),
        "{html}"
    );
    // On narrow screens each cell says its column (stacked rows, `style-reflow.css`).
    assert!(html.contains("<table class=\"evidence-table stacked-table\">"), "{html}");
    assert!(html.contains("<div class=\"notice\" role=\"status\"><p>Der Nachweis ist gelöscht.</p></div>"));
    assert!(html.contains("href=\"/evidence/new\""));

    let html = evidence_list_page(&ctx, &[], None).into_string();
    assert!(!html.contains("<table"));
    assert!(!html.contains("role=\"status\""));
    assert!(html.contains("Sie haben noch keine Nachweise gespeichert."));
}

#[test]
fn choose_type_page_is_a_get_form_with_a_radio_group() {
    let types = [
        TypeChoice { id: "income".to_owned(), name: "Einkommen".to_owned(), needs_higher_level: false },
        TypeChoice { id: "residence".to_owned(), name: "Wohnsitz".to_owned(), needs_higher_level: true },
    ];
    let html = choose_type_page(&context(Lang::En, false, true), &types).into_string();
    let form_tag = start_tags(&html, "form").into_iter().find(|tag| tag.contains("get")).expect("get form");
    assert_eq!(attribute(form_tag, "action"), Some("/evidence/new"));
    assert!(html.contains("<fieldset><legend>Type of evidence</legend>"));
    let radios: Vec<&str> =
        start_tags(&html, "input").into_iter().filter(|tag| attribute(tag, "type") == Some("radio")).collect();
    assert_eq!(radios.len(), 2);
    assert!(radios.iter().all(|tag| attribute(tag, "name") == Some("type")));
    assert_eq!(attribute(radios[0], "aria-describedby"), None);
    let note_id = attribute(radios[1], "aria-describedby").expect("note linked");
    assert!(html.contains(&format!("id=\"{note_id}\">For this you must log in with security level “high”.")));
}

#[test]
fn detail_page_lists_fields_and_links_download_and_delete() {
    let html = evidence_detail_page(&context(Lang::En, false, true), &detail(), None).into_string();
    assert!(html.contains("<dl class=\"details\"><div><dt>Straße</dt><dd>Hauptstraße 1</dd></div></dl>"));
    assert!(html.contains("<a href=\"/evidence/ev-1/file\">Download file: meldung.pdf (PDF, 1.5 MB)</a>"));
    assert!(html.contains("href=\"/evidence/ev-1/delete\""));

    let mut without_file = detail();
    without_file.file = None;
    without_file.fields.clear();
    let html = evidence_detail_page(&context(Lang::De, false, true), &without_file, None).into_string();
    assert!(!html.contains("/file\""));
    assert!(html.contains("Zu diesem Nachweis gibt es keine Datei."));
    assert!(html.contains("Es gibt keine weiteren Angaben."));
}

#[test]
fn delete_confirmation_posts_to_the_evidence_and_warns_in_words() {
    let html = delete_confirm_page(&context(Lang::De, false, true), "ev-1", "Melde").into_string();
    let form = forms(&html).into_iter().find(|form| form.contains("/evidence/ev-1/delete")).expect("delete form");
    assert_eq!(attribute(start_tags(form, "form")[0], "method"), Some("post"));
    assert!(html.contains("Das können Sie nicht rückgängig machen."));
    assert!(html.contains("<a href=\"/evidence/ev-1\">Nein, behalten</a>"));
}

#[test]
fn erase_account_needs_a_required_confirmation_checkbox() {
    let html = erase_account_page(&context(Lang::En, false, true)).into_string();
    let form = forms(&html).into_iter().find(|form| form.contains("action=\"/account/erase\"")).expect("erase form");
    let checkbox = start_tags(form, "input")
        .into_iter()
        .find(|tag| attribute(tag, "name") == Some("confirm"))
        .expect("confirm checkbox");
    assert_eq!(attribute(checkbox, "type"), Some("checkbox"));
    assert!(has_flag(checkbox, "required"));
    assert!(html.contains("we destroy this key"));
}

#[test]
fn error_page_shows_title_message_and_status() {
    let html =
        error_page(&context(Lang::En, false, false), 404, "Not found", "This page does not exist.").into_string();
    assert_eq!(title(&html), "Not found – tresor");
    assert!(html.contains("<h1>Not found</h1>"));
    assert!(html.contains("Error number: 404"));
    assert!(html.contains("<a href=\"/\">Go to the start page</a>"));
}

#[test]
fn page_context_debug_hides_the_csrf_token() {
    let debug = format!("{:?}", context(Lang::De, false, true));
    assert!(!debug.contains(TOKEN));
    assert!(debug.contains("[redacted]"));
}

#[test]
fn stylesheet_keeps_focus_visible_and_respects_reduced_motion() {
    assert!(STYLESHEET.contains(":focus-visible"));
    assert!(STYLESHEET.contains("prefers-reduced-motion"));
    assert!(!STYLESHEET.contains("outline: none") && !STYLESHEET.contains("outline:none"));
}

fn log_item(sequence: u64, by_others: bool) -> AccessLogItem {
    AccessLogItem {
        sequence,
        time: date(),
        who: if by_others { "Wohngeldstelle".to_owned() } else { "Sie".to_owned() },
        what: if by_others { "Daten an ein Amt gegeben".to_owned() } else { "Nachweis angesehen".to_owned() },
        by_others,
        service: by_others.then(|| "Wohngeld".to_owned()),
        fields: if by_others { vec!["Bruttoeinkommen".to_owned(), EVIL.to_owned()] } else { Vec::new() },
        grant_use: by_others.then_some(2),
        under_grant: by_others,
        reference: by_others.then(|| "AZ <4711>".to_owned()),
        result: "erfolgt".to_owned(),
        proof_ok: if by_others { None } else { Some(true) },
    }
}

#[test]
fn access_log_lists_offices_first_apart_from_own_actions_in_local_time() {
    let ctx = context(Lang::De, false, true);
    let items = [log_item(9, false), log_item(8, true), log_item(7, false)];
    let html = access_log_page(&ctx, &items, 12, Some("/access-log?before=7")).into_string();
    let (others, own) = html.split_once("<h2>Was Sie selbst getan haben</h2>").expect("two sections");
    assert!(others.contains("<h2>Zugriffe von Ämtern und der Stadt</h2>"), "{others}");
    assert_eq!(others.matches("<tr id=\"entry-").count(), 1);
    assert!(others.contains("Für: Wohngeld"));
    assert!(others.contains("Angaben: Bruttoeinkommen, &lt;script&gt;"), "escaped: {others}");
    assert!(others.contains("<a href=\"/grants\">2. Nutzung Ihrer Freigabe</a>"));
    assert!(others.contains("Aktenzeichen des Amts: AZ &lt;4711&gt;"), "{others}");
    assert!(others.contains("folgt bald"));
    assert_eq!(own.matches("<tr id=\"entry-").count(), 2);
    // 10:00 UTC in November is 11:00 in Berlin.
    assert!(html.contains("23.11.2026, 11:00 Uhr"), "{html}");
    assert!(!html.contains("<script>"));
    assert!(html.contains("<details class=\"explanation\"><summary>Was heißt „geprüft“?</summary>"), "{html}");
    assert!(html.contains("umfasst 12 Einträge"));
    assert!(html.contains("href=\"/access-log?before=7\""));

    let only_own = access_log_page(&ctx, &[log_item(3, false)], 3, None).into_string();
    assert!(only_own.contains("Auf dieser Seite hat kein Amt auf Ihre Daten zugegriffen."), "{only_own}");
}

#[test]
fn my_data_offers_the_archive_and_its_summary_escapes_what_citizens_typed() {
    let ctx = context(Lang::De, false, true);
    let offer = my_data_page(&ctx).into_string();
    assert!(offer.contains("<form method=\"post\" action=\"/account/data\">"), "{offer}");
    assert!(offer.contains(&format!("name=\"csrf\" value=\"{TOKEN}\"")));
    assert!(offer.contains("Auch dieses Herunterladen steht im Protokoll."));
    let evidence = [SummaryEvidence {
        type_name: "Einkommensnachweis".to_owned(),
        created_at: date(),
        fields: vec![("Arbeitgeber".to_owned(), EVIL.to_owned())],
        file: Some((EVIL.to_owned(), "files/ev-1-Lohn.pdf".to_owned())),
    }];
    let summary = my_data_summary(Lang::En, date(), &evidence, &[], &[]).into_string();
    assert!(summary.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{summary}");
    assert!(!summary.contains("<script>") && summary.contains("&lt;script&gt;"));
    assert!(summary.contains("href=\"files/ev-1-Lohn.pdf\""));
    assert!(summary.contains("<h2>My approvals</h2><p>You have not shared any data yet.</p>"), "{summary}");
}
