//! `GET /dpo/feedback`: the accessibility feedback messages for DPOs,
//! newest first, 50 a page (`?before=<number>` for older ones). Reading
//! them is recorded in the audit log first (`vault::Vault::feedback_for_dpo`).

use super::*;

/// Messages per page.
const FEEDBACK_PAGE: u32 = 50;

pub async fn feedback_page(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    dpo_page(&app, &staff, &headers, "/dpo/feedback", &raw, async |dpo, ctx| {
        let before = match web_param(&raw, "before") {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                ApiError::new(ErrorCode::InvalidFilter).with_arg("problem", "before: not a message number")
            })?),
        };
        let records = app.vault.feedback_for_dpo(&dpo.access, FEEDBACK_PAGE + 1, before).await?;
        let more = records.len() > FEEDBACK_PAGE as usize;
        let rows: Vec<pages::DpoFeedbackRow> = records
            .into_iter()
            .take(FEEDBACK_PAGE as usize)
            .map(|record| pages::DpoFeedbackRow {
                number: record.id,
                received_at: record.received_at,
                lang: record.lang,
                contact: record.contact,
                message: record.message,
            })
            .collect();
        let next_href = more.then(|| rows.last().map(|last| format!("/dpo/feedback?before={}", last.number))).flatten();
        let view = pages::DpoFeedbackView { rows, next_href };
        Ok::<_, ApiError>(respond(&app, &ctx, StatusCode::OK, pages::dpo_feedback_page(&ctx, &view)))
    })
    .await
}

fn web_param(raw: &str, key: &str) -> Option<String> {
    url::form_urlencoded::parse(raw.as_bytes()).find(|(name, _)| name == key).map(|(_, value)| value.into_owned())
}
