//! Verification of the whole log and the witnesses' state.

use super::*;

/// `GET /dpo/verify`: recompute the Merkle tree from every stored leaf,
/// check every stored entry text against its leaf, and check every signed
/// checkpoint (signature with the vault's key, root against the tree).
pub async fn verify_page(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    // With its query, for the language and display switches.
    dpo_page(&app, &staff, &headers, "/dpo/verify", &raw, async |dpo, ctx| {
        record_query(&app, &dpo, &AuditFilter::default(), "dpo_verify").await?;
        let (mut checked, mut problems) = verify_log(&app).await?;
        let (witnessed, witness_problems) = witness_findings(&app);
        checked.extend(witnessed);
        problems.extend(witness_problems);
        let view = pages::DpoVerifyView {
            ok: problems.is_empty(),
            checked: checked.iter().map(|finding| i18n::verify_finding(ctx.lang, finding)).collect(),
            problems: problems.iter().map(|finding| i18n::verify_finding(ctx.lang, finding)).collect(),
        };
        Ok::<_, ApiError>(respond(&app, &ctx, StatusCode::OK, pages::dpo_verify_page(&ctx, &view)))
    })
    .await
}

/// (what was verified, what failed), by the same verification as
/// `tresor audit verify` (`audit::verify::verify_log`: bodies against leaf
/// hashes and positions, indexed columns against bodies, the tree against
/// every signed checkpoint). It names the first problem it meets. Store
/// errors that mean corrupt data are findings; other store errors are errors.
async fn verify_log(app: &AppState) -> ApiResult<(Vec<VerifyFinding>, Vec<VerifyFinding>)> {
    let (_, public_key) =
        parse_verifier_key(&app.vault.audit().verifier_key()).map_err(|error| ApiError::internal(&error))?;
    let report = app.vault.verify_audit_log(&public_key).await;
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            return VerifyFinding::problem(&error).map(|problem| (Vec::new(), vec![problem])).ok_or_else(
                || match error {
                    VerifyError::Store(error) => ApiError::from(error),
                    other => ApiError::internal(&other),
                },
            );
        }
    };
    let mut checked = vec![VerifyFinding::TreeRecomputed {
        entries: report.entries,
        bodies: report.entries - report.pruned_bodies,
        pruned: report.pruned_bodies,
    }];
    match (report.latest_checkpoint_size, report.latest_checkpoint_root) {
        (Some(size), Some(root)) => {
            checked.push(VerifyFinding::CheckpointsMatched { count: report.checkpoints_verified });
            checked.push(VerifyFinding::LatestCheckpoint { size, root: BASE64.encode(root) });
        }
        _ => checked.push(VerifyFinding::NoCheckpointYet),
    }
    Ok((checked, Vec::new()))
}

/// (what the witnesses confirmed, what they refused): rollbacks and forks
/// are problems; a witness that cannot be reached is reported, not a problem.
fn witness_findings(app: &AppState) -> (Vec<VerifyFinding>, Vec<VerifyFinding>) {
    let statuses = app.vault.audit().witness_status();
    if statuses.is_empty() {
        return (vec![VerifyFinding::NoWitnesses], Vec::new());
    }
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for status in statuses {
        let name = status.name.clone();
        match (status.problem, status.cosigned_size) {
            (Some(WitnessProblem::Rollback { witness_size, log_size }), _) => {
                problems.push(VerifyFinding::WitnessRollback { name, witness_size, log_size });
            }
            (Some(WitnessProblem::Fork { old_size, size }), _) => {
                problems.push(VerifyFinding::WitnessFork { name, old_size, size });
            }
            (Some(problem), _) => checked.push(VerifyFinding::WitnessTrouble { name, problem: problem.describe() }),
            (None, Some(size)) => checked.push(VerifyFinding::WitnessCosigned { name, size }),
            (None, None) => checked.push(VerifyFinding::WitnessNotYet { name }),
        }
    }
    (checked, problems)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WitnessesBody {
    /// How many witnesses must cosign a checkpoint before proofs use it.
    quorum: usize,
    #[schema(value_type = Vec<crate::http::openapi::WitnessStatusSchema>)]
    witnesses: Vec<WitnessStatus>,
}

/// `GET /api/v1/dpo/witnesses`: each witness, what it cosigned last and
/// what went wrong (rollbacks and forks are `problem.kind` `rollback` and
/// `fork`). Holds no personal data, so it is not an audited query.
#[utoipa::path(get, path = "/api/v1/dpo/witnesses", tag = crate::http::openapi::tags::DPO,
    security(("staff_session_cookie" = [])),
    responses((status = 200, description = "Each witness's state.", body = WitnessesBody)))]
pub async fn witnesses_json(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
) -> ApiResult<Json<WitnessesBody>> {
    // No personal data: not an audited query.
    require_dpo(&app, &headers, &staff).await?;
    let audit = app.vault.audit();
    Ok(Json(WitnessesBody { quorum: audit.witness_quorum(), witnesses: audit.witness_status() }))
}
