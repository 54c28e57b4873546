//! `GET /api/v1/dept/whoami`: the department the caller's client certificate
//! authenticates as. For departments checking their setup (TLS listener or
//! proxy), and the bare authenticated endpoint benchmarks compare against.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::dept_auth::DepartmentCaller;
use super::openapi::tags;

#[derive(Serialize, ToSchema)]
pub struct WhoamiBody {
    /// The department's id (`policies/departments.toml`).
    department: String,
}

#[utoipa::path(get, path = "/api/v1/dept/whoami", tag = tags::DEPARTMENT,
    security(("department_certificate" = [])),
    responses((status = 200, description = "The certificate is valid for this department.", body = WhoamiBody)))]
pub async fn whoami(caller: DepartmentCaller) -> Json<WhoamiBody> {
    Json(WhoamiBody { department: caller.department().to_owned() })
}
