//! The summary before sending ("check your answers"): `decision=review`
//! ("Weiter") shows exactly what would be shared, to whom, until when and
//! how often; `decision=change` brings the form back with the choices kept.
//! Neither stores anything. The summary carries the choices on as hidden
//! fields of a CSRF-protected form; only its `decision=approve` creates a
//! grant, and the vault checks that whole approval again then.

use super::*;
use crate::vault::ConsentReview;

/// `decision=review`: the vault checks the choices (as it will when they are
/// approved); good ones give the summary (200), bad ones the form with the
/// reason (422).
pub(super) async fn review(
    app: &AppState,
    page: &Page,
    session: &CitizenSession,
    request_id: &RequestId,
    form: &ConsentForm,
) -> Response {
    let approval = match form.approval() {
        Ok(approval) => approval,
        Err(problem) => {
            return match app.vault.consent_preview(session.citizen(), session.level(), request_id).await {
                Ok(preview) => form_with_error(app, page, &preview, form, ErrorCode::from(problem)),
                Err(error) => vault_error_page(app, page, Some(session), request_id, error).await,
            };
        }
    };
    match app.vault.review_approval(session.citizen(), session.level(), request_id, &approval).await {
        Ok(ConsentReview { preview, problem: Some(problem) }) => {
            form_with_error(app, page, &preview, form, ErrorCode::from(problem))
        }
        Ok(ConsentReview { preview, problem: None }) => {
            let view = summary_view(app, page.lang(), &preview, &approval, form);
            page.respond(app, StatusCode::OK, pages::consent_summary_page(&page.ctx, &view))
        }
        Err(error) => vault_error_page(app, page, Some(session), request_id, error).await,
    }
}

/// `decision=change`: the form again with the choices kept (200); nothing
/// is checked or stored.
pub(super) async fn change(
    app: &AppState,
    page: &Page,
    session: &CitizenSession,
    request_id: &RequestId,
    form: &ConsentForm,
) -> Response {
    match app.vault.consent_preview(session.citizen(), session.level(), request_id).await {
        Ok(preview) => {
            let view = consent_view(app, page.lang(), &preview, &Selection::from_form(form), None);
            page.respond(app, StatusCode::OK, pages::consent_page(&page.ctx, &view))
        }
        Err(error) => vault_error_page(app, page, Some(session), request_id, error).await,
    }
}

/// The summary of an approval the vault found good: the chosen documents
/// with the formatted values of exactly the approved fields, their files
/// (or that they are left out), the end date and the number of uses.
fn summary_view(
    app: &AppState,
    lang: Lang,
    preview: &ConsentPreview,
    approval: &Approval,
    form: &ConsentForm,
) -> pages::ConsentSummaryView {
    let policies = app.vault.policies();
    let service = &preview.service;
    let mut documents = Vec::new();
    let mut files = Vec::new();
    for (type_index, document) in preview.documents.iter().enumerate() {
        let chosen = document.candidates.iter().find(|candidate| approval.evidence.contains(&candidate.evidence_id));
        let Some(candidate) = chosen else { continue };
        let values = document
            .fields
            .iter()
            .filter(|field| approval.fields.contains(field))
            .map(|field| {
                let value = candidate
                    .values
                    .iter()
                    .find(|(name, _)| name == field.field())
                    .map(|(_, value)| display_value(policies, lang, field, value));
                (policies.field_label(&field.to_string(), lang), value)
            })
            .collect();
        if let Some(file) = &candidate.file {
            files.push(pages::FileInfo {
                name: file.name.clone(),
                media_type: file.media_type.clone(),
                size: file.size,
            });
        }
        documents.push(pages::SummaryDocument {
            type_index,
            type_name: policies.evidence_type_name(&document.type_id, lang),
            created_at: candidate.created_at,
            values,
        });
    }
    let files = match (service.file, approval.without_files) {
        (false, _) => pages::SummaryFiles::NotReleased,
        (true, true) => pages::SummaryFiles::LeftOut,
        (true, false) => pages::SummaryFiles::Shared(files),
    };
    pages::ConsentSummaryView {
        session_minutes: crate::http::web::session_minutes(app),
        request_id: preview.request.id.to_string(),
        department_name: preview.department.name.get(lang).to_owned(),
        contact: preview.department.contact.as_ref().map(|contact| contact.get(lang).to_owned()),
        service_name: service.name.get(lang).to_owned(),
        reference: preview.request.reference.clone(),
        documents,
        files,
        duration_days: approval.duration_days,
        ends_at: app.vault.clock().now() + Duration::days(i64::from(approval.duration_days)),
        max_uses: approval.max_uses,
        hidden: hidden_choices(preview, approval, form),
    }
}

/// The choices as the form's own inputs, for the summary's buttons: each
/// document choice of a type the service reads (`none` kept, so "change"
/// brings it back), the ticked fields the service reads (also of types not
/// shared, kept for "change"), the checked duration and uses, and
/// `without_files`. Anything else the form carried is dropped.
fn hidden_choices(preview: &ConsentPreview, approval: &Approval, form: &ConsentForm) -> Vec<(String, String)> {
    let mut hidden = Vec::new();
    for document in &preview.documents {
        let Some(choice) = form.documents.get(&document.type_id) else { continue };
        let known =
            choice == "none" || document.candidates.iter().any(|candidate| candidate.evidence_id.as_str() == choice);
        if known {
            hidden.push((format!("doc.{}", document.type_id), choice.clone()));
        }
    }
    for field in &preview.service.fields {
        let reference = field.to_string();
        if form.fields.contains(&reference) {
            hidden.push(("field".to_owned(), reference));
        }
    }
    hidden.push(("duration_days".to_owned(), approval.duration_days.to_string()));
    hidden.push(("max_uses".to_owned(), approval.max_uses.to_string()));
    if approval.without_files {
        hidden.push(("without_files".to_owned(), "yes".to_owned()));
    }
    hidden
}
