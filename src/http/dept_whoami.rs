//! `GET /api/v1/dept/whoami`: the department the caller's client certificate
//! authenticates as. For departments checking their setup (TLS listener or
//! proxy), and the bare authenticated endpoint benchmarks compare against.

use axum::Json;
use serde_json::{Value, json};

use super::dept_auth::DepartmentCaller;

pub async fn whoami(caller: DepartmentCaller) -> Json<Value> {
    Json(json!({ "department": caller.department() }))
}
