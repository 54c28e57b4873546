//! Parts of the upload form that forgive mistakes: the date input as three
//! text fields (day, month, year; the GOV.UK pattern) and the request to
//! choose a file again after an error (a browser never fills in a file
//! input it is sent back).

use super::*;

/// The id of the "please choose the file again" text next to the file input.
pub(super) const FILE_AGAIN_ID: &str = "upload-file-again";

/// The three parts' names in inputs and ids, and their labels.
const PARTS: [(&str, Msg); 3] = [("day", Msg::DateDay), ("month", Msg::DateMonth), ("year", Msg::DateYear)];

/// The id of one part's input: `field-born-day`.
fn part_id(field: &FormField, part: &str) -> String {
    format!("{}-{part}", field_id(&field.name))
}

/// Where the error summary links for a field with an error: for a date
/// the first part the error names (the day when it names none).
pub(super) fn error_target(field: &FormField) -> String {
    if field.kind != FormFieldKind::Date {
        return field_id(&field.name);
    }
    let index = field.date.invalid.iter().position(|invalid| *invalid).unwrap_or(0);
    part_id(field, PARTS[index].0)
}

/// A date as a fieldset: the field's label as the legend, the hint "Zum
/// Beispiel 27 3 2007", the error, then Tag, Monat and Jahr as numeric text
/// inputs named `field.<name>.day|month|year` (the domain puts them
/// together and names the part that is wrong).
pub(super) fn date_input(lang: Lang, field: &FormField) -> Markup {
    let base_id = field_id(&field.name);
    let hint_id = format!("{base_id}-hint");
    let error_id = format!("{base_id}-error");
    let described_by = described_by(Some(&hint_id), field.error.is_some().then_some(&error_id));
    // Without a part named, an error marks all three.
    let any_named = field.date.invalid.iter().any(|invalid| *invalid);
    html! {
        div.field.field-has-error[field.error.is_some()] {
            fieldset.date-input id=(base_id) aria-describedby=[described_by.as_deref()] {
                legend {
                    (field.label)
                    @if field.required {
                        " " span.required-marker { (t(lang, Msg::RequiredMarker)) }
                    }
                }
                p.hint id=(hint_id) { (t(lang, Msg::DateHint)) }
                @if let Some(error) = &field.error {
                    p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
                }
                div.date-input-parts {
                    @for (index, (part, label)) in PARTS.iter().enumerate() {
                        @let id = part_id(field, part);
                        @let invalid = field.error.is_some() && (field.date.invalid[index] || !any_named);
                        div class={ "date-input-part date-input-" (part) } {
                            label for=(id) { (t(lang, *label)) }
                            input type="text" inputmode="numeric" id=(id)
                                name=(format!("field.{}.{part}", field.name))
                                value=(field.date.parts[index])
                                autocomplete="off"
                                aria-invalid=[invalid.then_some("true")];
                        }
                    }
                }
            }
        }
    }
}

/// Next to the file input, when a chosen file had to be dropped: say so.
pub(super) fn choose_file_again(lang: Lang, form: &UploadForm) -> Markup {
    html! {
        @if form.file_dropped {
            p.file-again id=(FILE_AGAIN_ID) { strong { (t(lang, Msg::FileChooseAgain)) } }
        }
    }
}

/// After a form was sent with an ended session: nothing was saved, what
/// was typed is kept (sealed) for `minutes`, and one button logs in again
/// and leads back to the form (`login_href`).
pub fn session_expired_page(ctx: &PageContext, minutes: i64, login_href: &str) -> Markup {
    let lang = ctx.lang;
    let title = t(lang, Msg::SessionExpiredTitle);
    let body = html! {
        h1 { (title) }
        p { (t(lang, Msg::SessionExpiredNothingSaved)) }
        p { (i18n::session_expired_kept(lang, minutes)) }
        p { a.button href=(login_href) { (t(lang, Msg::SessionExpiredLogin)) } }
        p.error-code { (t(lang, Msg::ErrorCodeLabel)) " 401" }
    };
    layout(ctx, title, body)
}
