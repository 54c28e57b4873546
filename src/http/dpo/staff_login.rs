//! Staff login and logout (the one login flow, `LoginKind::Staff`).

use super::*;

#[derive(Deserialize)]
pub struct StaffLoginQuery {
    login_hint: Option<String>,
    return_to: Option<String>,
}

/// Only pages of the DPO area are a place to come back to after login.
fn dpo_return_path(candidate: Option<&str>) -> String {
    session::return_path(candidate, "/dpo", "/dpo")
}

/// `GET /staff/login`: to the staff identity provider.
pub async fn staff_login(
    State(app): State<AppState>,
    client: crate::http::rate_limit::ClientAddress,
    staff: StaffSetup,
    headers: HeaderMap,
    Query(query): Query<StaffLoginQuery>,
) -> Response {
    let started = async {
        app.rate_limits.login_start(client.0)?;
        start_staff_login(&app, &staff, query).await
    };
    match started.await {
        Ok(response) => response,
        Err(error) => error_page(&app, &headers, None, "/dpo", error, false),
    }
}

async fn start_staff_login(app: &AppState, staff: &StaffSetup, query: StaffLoginQuery) -> ApiResult<Response> {
    let staff = staff.require()?;
    let relying_party = staff.relying_party().await?;
    let request = LoginStartRequest {
        issuer_name: staff.issuer_name().to_owned(),
        level: relying_party.min_level(),
        login_hint: query.login_hint.as_deref(),
        return_to: dpo_return_path(query.return_to.as_deref()),
    };
    login_flow::redirect_to_provider(app, LoginKind::Staff, &relying_party, request).await
}

/// `GET /staff/callback`: the staff provider's answer. A verified staff
/// member who is not a DPO gets 403 and no session.
pub async fn staff_callback(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match finish_staff_login(&app, &staff, &headers, query).await {
        Ok(response) => response,
        Err(error) => error_page(&app, &headers, None, "/dpo", error, false),
    }
}

async fn finish_staff_login(
    app: &AppState,
    staff: &StaffSetup,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> ApiResult<Response> {
    let staff = staff.require()?;
    // A citizen's pending login can never complete here: another key, and
    // the issuer must be the staff provider.
    let (pending, login, _) =
        login_flow::verified_login(app, LoginKind::Staff, headers, query, Some(staff.issuer_name()), |_| async {
            Ok(staff.relying_party().await?)
        })
        .await?;
    let staff_id = app.vault.staff_id(staff, &login.subject)?;
    if !staff.is_dpo(&staff_id) {
        app.vault.record_refused_login(Actor::Staff(staff_id), "not_a_dpo").await?;
        return Err(not_a_dpo());
    }
    // Durable before the session exists (fail closed).
    app.vault.log_in_staff(&staff_id).await?;
    let previous = session::cookie_value(headers, app.cookies.staff_session_name());
    let cookie =
        session::start_staff_session(app, previous, staff_id, staff.issuer_name(), login.idp_session_id).await?;
    Ok(login_flow::logged_in_response(app, LoginKind::Staff, &pending.return_to, cookie))
}

/// `POST /staff/logout`: end the staff session here (and at the provider,
/// if it supports RP-initiated logout).
pub async fn staff_logout(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        let staff_login = staff.require()?;
        let session = session::load_staff_session(&app, &headers).await?.ok_or_else(staff_not_logged_in)?;
        session.check_csrf(form.csrf.as_deref())?;
        // Durable before the session ends (fail closed).
        app.vault.log_out_staff(session.staff_id(), &session.record.id_hash).await?;
        let target = match staff_login.relying_party().await {
            Ok(relying_party) => relying_party.end_session_url().map(|url| url.to_string()),
            Err(_) => None,
        };
        let mut response = Redirect::to(target.as_deref().unwrap_or("/logged-out")).into_response();
        session::set_cookie_header(response.headers_mut(), app.cookies.clear(app.cookies.staff_session_name()));
        Ok::<_, ApiError>(response)
    }
    .await;
    result.unwrap_or_else(|error| error_page(&app, &headers, None, "/dpo", error, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_in_the_dpo_area() {
        assert_eq!(dpo_return_path(Some("/dpo/stats")), "/dpo/stats");
        assert_eq!(dpo_return_path(Some("/dpo?action=login")), "/dpo?action=login");
        for bad in ["//evil.example", "/evidence", "https://evil.example/dpo", "/dpo\\x", "/dpoevil"] {
            assert_eq!(dpo_return_path(Some(bad)), "/dpo", "{bad}");
        }
    }
}
