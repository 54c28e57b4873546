//! Forms that forgive mistakes: the date input, the error summary, the
//! file to choose again, the session's length, the page after it ended.

use super::*;

fn date_field_index(form: &UploadForm) -> usize {
    form.fields.iter().position(|field| field.kind == FormFieldKind::Date).expect("a date field")
}

#[test]
fn a_date_is_three_numeric_fields_in_a_fieldset_with_legend_and_hint() {
    let mut form = upload_form();
    let index = date_field_index(&form);
    form.fields[index].date.parts = ["1".to_owned(), "10".to_owned(), "2026".to_owned()];
    let html = upload_form_page(&context(Lang::De, false, true), &form).into_string();
    let fieldset = start_tags(&html, "fieldset").into_iter().find(|tag| tag.contains("field-valid_from")).expect("set");
    assert_eq!(attribute(fieldset, "aria-describedby"), Some("field-valid_from-hint"));
    assert!(html.contains("<legend>Label valid_from <span class=\"required-marker\">"), "{html}");
    assert!(html.contains("<p class=\"hint\" id=\"field-valid_from-hint\">Zum Beispiel 27 3 2007</p>"));
    let inputs = start_tags(&html, "input");
    for (part, label, value) in [("day", "Tag", "1"), ("month", "Monat", "10"), ("year", "Jahr", "2026")] {
        let name = format!("field.valid_from.{part}");
        let input = *inputs.iter().find(|tag| attribute(tag, "name") == Some(&name)).expect("part input");
        assert_eq!(attribute(input, "type"), Some("text"));
        assert_eq!(attribute(input, "inputmode"), Some("numeric"));
        assert_eq!(attribute(input, "value"), Some(value));
        let id = format!("field-valid_from-{part}");
        assert_eq!(attribute(input, "id"), Some(id.as_str()));
        assert!(html.contains(&format!("<label for=\"{id}\">{label}</label>")), "{part}");
    }
    assert!(!html.contains("type=\"date\""));
}

#[test]
fn the_form_turns_browser_bubbles_off_and_says_how_long_the_session_lasts() {
    for (lang, words) in
        [(Lang::De, "Sie werden nach 30 Minuten ohne Aktivität abgemeldet."), (Lang::En, "after 30 minutes without")]
    {
        let html = upload_form_page(&context(lang, false, true), &upload_form()).into_string();
        let form_tag = start_tags(&html, "form").into_iter().find(|tag| tag.contains("/evidence\"")).expect("form");
        assert!(has_flag(form_tag, "novalidate"), "{form_tag}");
        assert!(html.contains(words), "{lang:?}");
    }
}

#[test]
fn a_date_error_links_the_summary_to_the_part_it_names_and_marks_only_that_part() {
    let mut form = upload_form();
    let index = date_field_index(&form);
    form.fields[index].date =
        DateValue { parts: ["3".to_owned(), "13".to_owned(), "2026".to_owned()], invalid: [false, true, false] };
    form.fields[index].error = Some("Bitte geben Sie den Monat als Zahl von 1 bis 12 ein.".to_owned());
    let html = upload_form_page(&context(Lang::De, false, true), &form).into_string();
    assert!(html.contains("href=\"#field-valid_from-month\""), "{html}");
    let inputs = start_tags(&html, "input");
    let part = |part: &str| {
        let name = format!("field.valid_from.{part}");
        *inputs.iter().find(|tag| attribute(tag, "name") == Some(&name)).expect("part")
    };
    assert_eq!(attribute(part("month"), "aria-invalid"), Some("true"));
    assert_eq!(attribute(part("day"), "aria-invalid"), None);
    assert_eq!(attribute(part("month"), "value"), Some("13"));
    let fieldset = start_tags(&html, "fieldset").into_iter().find(|tag| tag.contains("field-valid_from")).expect("set");
    assert_eq!(attribute(fieldset, "aria-describedby"), Some("field-valid_from-hint field-valid_from-error"));
}

#[test]
fn a_dropped_file_is_asked_for_again_next_to_the_input_and_in_the_summary() {
    let mut form = upload_form_with_errors();
    form.file_error = None;
    form.file_dropped = true;
    let html = upload_form_page(&context(Lang::De, false, true), &form).into_string();
    assert!(html.contains("<p class=\"file-again\" id=\"upload-file-again\"><strong>Bitte wählen Sie die Datei"));
    assert!(html.contains("<a href=\"#upload-file\">Datei: Bitte wählen Sie die Datei noch einmal aus."), "{html}");
    let file = start_tags(&html, "input").into_iter().find(|tag| attribute(tag, "name") == Some("file")).expect("f");
    assert_eq!(attribute(file, "aria-describedby"), Some("upload-file-hint upload-file-again"));
    // No file chosen: nothing asked for.
    let html = upload_form_page(&context(Lang::De, false, true), &upload_form_with_errors()).into_string();
    assert!(!html.contains("upload-file-again"));
}

#[test]
fn a_form_wide_error_and_a_restored_draft_are_said_at_the_top() {
    let mut form = upload_form();
    form.general_error = Some("Das Formular ist abgelaufen.".to_owned());
    let html = upload_form_page(&context(Lang::De, false, true), &form).into_string();
    assert!(html.contains("<li>Formular: Das Formular ist abgelaufen.</li>"), "{html}");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<title>Fehler: "));
    let mut form = upload_form();
    form.restored = true;
    let html = upload_form_page(&context(Lang::En, false, true), &form).into_string();
    assert!(html.contains("<div class=\"notice\" role=\"status\"><p>You were logged out in the meantime."));
}

#[test]
fn the_page_after_an_ended_session_says_what_is_kept_and_leads_back() {
    let ctx = context(Lang::De, false, false);
    let html = session_expired_page(&ctx, 30, "/login?return_to=%2Fevidence%2Fnew%3Fdraft%3D1").into_string();
    assert!(html.contains("<h1>Sie wurden abgemeldet</h1>"));
    assert!(html.contains("30 Minuten lang verschlüsselt"));
    assert!(html.contains("href=\"/login?return_to=%2Fevidence%2Fnew%3Fdraft%3D1\""));
}
