//! The data-protection officers' view of the audit log, end to end: a DPO
//! logs in through the staff issuer (a second client at the real test
//! provider), queries, filters, exports, counts and verifies; every query is
//! itself in the log; citizen and staff sessions never open each other's
//! pages; a staff member who is not a DPO gets 403.

use serde_json::Value;
use tresor::audit::checkpoint::Checkpoint;
use tresor::audit::{Action, Actor, AuditEntry, AuditEvent, Outcome, Targets};
use tresor::clock::Clock;
use tresor::crypto::{FileKeyProvider, KeyProvider};

use crate::support::app::{Backend, TestApp, TestAppOptions};
use crate::support::oidc_provider::persona_sub;

/// clara is the DPO; ben is staff but not a DPO.
pub(crate) const DPO: &str = "clara";
const NOT_A_DPO: &str = "ben";

fn pdf(bytes: usize) -> Vec<u8> {
    let mut file = b"%PDF-1.4\n".to_vec();
    file.resize(bytes, b'x');
    file
}

/// The shipped evidence types, departments and services plus a staff.toml
/// naming clara as DPO.
pub(crate) fn policy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for file in ["evidence-types.toml", "departments.toml"] {
        std::fs::copy(shipped.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::create_dir(dir.path().join("services")).unwrap();
    for service in std::fs::read_dir(shipped.join("services")).unwrap() {
        let service = service.unwrap().path();
        std::fs::copy(&service, dir.path().join("services").join(service.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("staff.toml"),
        format!("[[dpo]]\nissuer = \"staff\"\nsubject = \"{}\"\n", persona_sub(DPO)),
    )
    .unwrap();
    dir
}

async fn start(backend: Backend) -> (TestApp, tempfile::TempDir) {
    let policies = policy_dir();
    let app = TestApp::start_with(TestAppOptions {
        staff_issuer: true,
        policy_dir: Some(policies.path().to_owned()),
        ..TestAppOptions::new(backend)
    })
    .await;
    (app, policies)
}

async fn upload_income(app: &TestApp, browser: &reqwest::Client, csrf: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("type", "income_statement")
        .text("field.employer", "Audit GmbH")
        .text("field.gross_monthly_income", "3000")
        .text("field.net_monthly_income", "2000")
        .text("field.period_from", "2026-01-01")
        .text("field.period_to", "2026-12-31")
        .part("file", reqwest::multipart::Part::bytes(pdf(10_000)).file_name("lohn.pdf"));
    let response =
        browser.post(app.url("/api/v1/evidence")).header("x-csrf-token", csrf).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Anna logs in, uploads and views evidence. Returns her citizen id.
async fn anna_acts(app: &TestApp) -> (reqwest::Client, String) {
    let anna = TestApp::browser();
    app.login(&anna, "anna", Some("high")).await;
    let session: Value = anna.get(app.url("/api/v1/session")).send().await.unwrap().json().await.unwrap();
    let citizen = session["citizen_id"].as_str().unwrap().to_owned();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    let created = upload_income(app, &anna, &csrf).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(anna.get(app.url(&format!("/api/v1/evidence/{id}"))).send().await.unwrap().status(), 200);
    (anna, citizen)
}

/// A release to a department, recorded the way the department API does.
fn release(citizen: &str, department: &str, service: &str, outcome: Outcome, reason: Option<&str>) -> AuditEvent {
    AuditEvent {
        actor: Actor::Department(department.to_owned()),
        action: Action::Release,
        targets: Targets {
            subject: Some(citizen.to_owned()),
            department: Some(department.to_owned()),
            service: Some(service.to_owned()),
            ..Targets::default()
        },
        outcome,
        reason: reason.map(str::to_owned),
    }
}

/// Department releases: three successful ones by the Wohngeldstelle, one
/// successful and one refused by the Kita-Amt (with a reason that would be
/// a spreadsheet formula).
async fn departments_access(app: &TestApp, citizen: &str) {
    let audit = app.state.vault.audit();
    for _ in 0..3 {
        audit.record(release(citizen, "wohngeldstelle", "housing_benefit", Outcome::Success, None)).await.unwrap();
    }
    audit.record(release(citizen, "kita_amt", "daycare_fee_reduction", Outcome::Success, None)).await.unwrap();
    let refused = release(citizen, "kita_amt", "daycare_fee_reduction", Outcome::Refused, Some("=SUM(1,2)"));
    audit.record(refused).await.unwrap();
}

async fn entries(browser: &reqwest::Client, app: &TestApp, query: &str) -> Value {
    let response = browser.get(app.url(&format!("/api/v1/dpo/entries?{query}"))).send().await.unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn entry_list(body: &Value) -> &Vec<Value> {
    body["entries"].as_array().unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"].as_str().unwrap_or_default().to_owned()
}

/// The hidden CSRF input of a page.
fn csrf_from_page(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

async fn dpo_queries_filters_and_exports(backend: Backend) {
    let (app, _policies) = start(backend).await;
    let (anna, anna_id) = anna_acts(&app).await;
    departments_access(&app, &anna_id).await;

    let dpo = TestApp::browser();
    let landing = app.staff_login(&dpo, DPO).await;
    assert_eq!(landing.status(), 200);
    assert_eq!(landing.url().path(), "/dpo");
    let page = landing.text().await.unwrap();
    assert!(page.contains(&anna_id), "the DPO sees anna's entries");
    assert!(page.contains("<caption>"), "a results table");

    // The page is in plain words: names, actions and actors, never the ids.
    let page = dpo.get(app.url("/dpo?lang=en")).send().await.unwrap().text().await.unwrap();
    let (form, table) = page.split_once("<tbody>").expect("a results table");
    for words in [
        "<td>Housing Benefit Office</td><td>Data given to an office</td><td>successful</td>",
        "<td>Day-care Office (Youth Welfare Office)</td><td>Data given to an office</td><td>refused</td>",
        "<td>Housing benefit (rent subsidy)</td>",
        "<td>Day-care fee reduction</td>",
        "<td>Evidence uploaded</td>",
        &format!("<td>Citizen <code title=\"{anna_id}\">{}…</code></td>", &anna_id[..8]),
        &format!("<a href=\"/dpo?citizen={anna_id}&amp;lang=en\"><code title=\"{anna_id}\">"),
    ] {
        assert!(table.contains(words), "{words} missing: {table}");
    }
    for id in ["wohngeldstelle", "kita_amt", "housing_benefit", "daycare_fee_reduction", "evidence_upload", ">release<"]
    {
        assert!(!table.contains(id), "{id} shown: {table}");
    }
    // The filters offer the known departments, services and actions by name.
    assert!(
        form.contains(
            "<select id=\"dpo-filter-department\" name=\"department\"><option value=\"\">All</option>\
             <option value=\"wohngeldstelle\">Housing Benefit Office</option>\
             <option value=\"strassenverkehrsbehoerde\">Road Traffic Authority</option>\
             <option value=\"kita_amt\">Day-care Office (Youth Welfare Office)</option></select>"
        ),
        "{form}"
    );
    assert!(form.contains("<option value=\"resident_parking_permit\">Resident parking permit</option>"), "{form}");
    assert!(form.contains("<option value=\"evidence_upload\">Evidence uploaded</option>"), "{form}");
    assert!(form.contains("type=\"text\" id=\"dpo-filter-citizen\" name=\"citizen\""), "{form}");
    let chosen =
        dpo.get(app.url("/dpo?department=kita_amt&service=daycare_fee_reduction&lang=de")).send().await.unwrap();
    let chosen = chosen.text().await.unwrap();
    assert!(chosen.contains("<option value=\"kita_amt\" selected>Kita-Amt (Jugendamt)</option>"), "{chosen}");
    assert!(chosen.contains("<option value=\"daycare_fee_reduction\" selected>Ermäßigung der Kita-Gebühren</option>"));
    assert!(!chosen.contains("<td>Wohngeldstelle</td>"), "filtered by department: {chosen}");

    // Filters narrow the results.
    let all = entries(&dpo, &app, "limit=1000").await;
    // Every entry comes with the exact bytes that were hashed.
    for entry in entry_list(&all) {
        let body = entry["body"].as_str().expect("the stored bytes");
        let mut hashed = vec![0u8];
        hashed.extend_from_slice(body.as_bytes());
        let digest = ring::digest::digest(&ring::digest::SHA256, &hashed);
        assert_eq!(hex::encode(digest.as_ref()), entry["leaf_hash"].as_str().unwrap());
        assert_eq!(serde_json::from_str::<Value>(body).unwrap(), entry["entry"]);
    }
    let views = entries(&dpo, &app, &format!("citizen={anna_id}&action=evidence_view")).await;
    assert!(!entry_list(&views).is_empty());
    assert!(entry_list(&views).len() < entry_list(&all).len());
    for entry in entry_list(&views) {
        assert_eq!(entry["action"], "evidence_view");
        assert_eq!(entry["subject"], anna_id.as_str());
    }
    let wohngeld = entries(&dpo, &app, "department=wohngeldstelle&action=release").await;
    assert_eq!(entry_list(&wohngeld).len(), 3);
    assert!(entry_list(&wohngeld).iter().all(|e| e["service"] == "housing_benefit" && e["actor_kind"] == "department"));
    let refused = entries(&dpo, &app, "service=daycare_fee_reduction&outcome=refused").await;
    assert_eq!(entry_list(&refused).len(), 1);
    assert_eq!(entry_list(&refused)[0]["reason"], "=SUM(1,2)");
    let today = app.clock.now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let yesterday = today.pred_opt().unwrap();
    assert!(entry_list(&entries(&dpo, &app, &format!("from={tomorrow}")).await).is_empty());
    assert!(entry_list(&entries(&dpo, &app, &format!("to={yesterday}")).await).is_empty());
    let today_only = entries(&dpo, &app, &format!("from={today}&to={today}&action=release")).await;
    assert_eq!(entry_list(&today_only).len(), 5);

    // Keyset paging, newest first unless `after` is given: no overlap, no gap.
    let first = entries(&dpo, &app, "action=release&limit=2").await;
    assert!(first["next_after"].is_null());
    let before = first["next_before"].as_i64().expect("more pages");
    let second = entries(&dpo, &app, &format!("action=release&limit=2&before={before}")).await;
    let third = entries(&dpo, &app, &format!("action=release&limit=2&before={}", second["next_before"])).await;
    assert!(third["next_before"].is_null());
    let sequences: Vec<i64> = [&first, &second, &third]
        .iter()
        .flat_map(|page| entry_list(page).iter().map(|e| e["sequence"].as_i64().unwrap()))
        .collect();
    assert_eq!(sequences.len(), 5);
    assert!(sequences.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {sequences:?}");
    let oldest_first = entries(&dpo, &app, "action=release&limit=2&after=0").await;
    assert!(oldest_first["next_before"].is_null());
    let next_after = oldest_first["next_after"].as_i64().expect("more pages");
    let ascending: Vec<i64> = entry_list(&oldest_first).iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(ascending, vec![sequences[4], sequences[3]], "oldest first from `after`");
    assert_eq!(next_after, sequences[3]);
    let page = dpo.get(app.url("/dpo?action=release&limit=2&lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("before={}", sequences[1])), "the page links to the older entries: {page}");

    // Bad filter values: 400 invalid_filter, never a panic.
    for bad in [
        "action=drop_tables",
        "outcome=maybe",
        "from=gestern",
        "limit=0",
        "limit=99999999999",
        "citizen=anna",
        "department=%3Cscript%3E",
        "after=-3",
        "before=-1",
        "after=1&before=5",
        "colour=red",
        "action=login&action=logout",
        "from=2026-05-02&to=2026-05-01",
        // The page's display switches mean nothing to the API.
        "text=large",
        "action=release&contrast=high",
    ] {
        let response = dpo.get(app.url(&format!("/api/v1/dpo/entries?{bad}"))).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(error_code(response).await, "invalid_filter", "{bad}");
    }
    // The page itself takes them (they switch the display, not the filter).
    assert_eq!(dpo.get(app.url("/dpo?action=release&contrast=high")).send().await.unwrap().status(), 200);
    let bad_page = dpo.get(app.url("/dpo?action=drop_tables&lang=en")).send().await.unwrap();
    assert_eq!(bad_page.status(), 400);
    let html = bad_page.text().await.unwrap();
    assert!(html.contains("This action does not exist.") && html.contains("aria-invalid=\"true\""), "{html}");
    // A text-direction override is refused with its reason and not shown back.
    let bad_page = dpo.get(app.url("/dpo?department=amt%E2%80%AEtla&lang=en")).send().await.unwrap();
    assert_eq!(bad_page.status(), 400);
    let html = bad_page.text().await.unwrap();
    assert!(html.contains("invisible formatting characters"), "{html}");
    assert!(!html.contains('\u{202E}'), "{html}");

    // CSV: header, same rows as the JSON, formula cells neutralised.
    let csv = dpo.get(app.url("/dpo/export.csv?action=release")).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "sequence,time,actor_kind,actor_id,action,outcome,subject,department,service,reason,leaf_hash"
    );
    assert_eq!(lines.len(), 1 + 5);
    assert!(lines.iter().any(|line| line.contains("\"'=SUM(1,2)\"")), "{csv}");
    assert!(!lines.iter().skip(1).any(|line| line.split(',').any(|cell| cell.starts_with('='))), "{csv}");
    // The export is oldest first; the JSON newest first.
    let newest_first = entries(&dpo, &app, "action=release").await;
    for (line, entry) in lines[1..].iter().zip(entry_list(&newest_first).iter().rev()) {
        assert!(line.starts_with(&format!("{},", entry["sequence"])), "{line}");
        assert!(line.ends_with(entry["leaf_hash"].as_str().unwrap()), "{line}");
    }
    let empty = dpo.get(app.url(&format!("/dpo/export.csv?from={tomorrow}"))).send().await.unwrap();
    assert_eq!(empty.text().await.unwrap().lines().count(), 1, "an empty export still has its header");

    // JSON Lines: one entry per line, and each body hashes to its leaf.
    let jsonl = dpo.get(app.url(&format!("/dpo/export.jsonl?citizen={anna_id}"))).send().await.unwrap();
    assert_eq!(jsonl.status(), 200);
    assert_eq!(jsonl.headers()["content-type"], "application/x-ndjson");
    let jsonl = jsonl.text().await.unwrap();
    let mut actions = Vec::new();
    for line in jsonl.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["subject"], anna_id.as_str());
        let stored: AuditEntry = serde_json::from_value(entry["entry"].clone()).unwrap();
        assert_eq!(hex::encode(stored.leaf_hash()), entry["leaf_hash"].as_str().unwrap());
        actions.push(entry["action"].as_str().unwrap().to_owned());
    }
    for expected in ["login", "evidence_upload", "evidence_view", "release", "audit_query"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
    }
    let bad_export = dpo.get(app.url("/dpo/export.csv?outcome=maybe")).send().await.unwrap();
    assert_eq!(bad_export.status(), 400);

    // Every DPO query is itself in the log, by a staff id, never the subject.
    let queries = entries(&dpo, &app, "action=audit_query&limit=1000").await;
    let queries = entry_list(&queries);
    let reasons: Vec<&str> = queries.iter().map(|e| e["reason"].as_str().unwrap()).collect();
    for expected in ["dpo_page", "dpo_entries", "dpo_export_csv", "dpo_export_jsonl"] {
        assert!(reasons.contains(&expected), "{expected} missing from {reasons:?}");
    }
    let staff_id = queries[0]["actor_id"].as_str().unwrap();
    assert_eq!(staff_id.len(), 32);
    for query in queries {
        assert_eq!(query["actor_kind"], "staff");
        assert_eq!(query["actor_id"], staff_id);
        assert_eq!(query["entry"]["actor"]["kind"], "staff");
    }
    let everything = dpo.get(app.url("/dpo/export.jsonl")).send().await.unwrap().text().await.unwrap();
    assert!(!everything.contains(persona_sub(DPO)), "the DPO's raw subject is in the log");
    // Anna sees in her own access log that a DPO looked at her entries.
    let anna_log: Value = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    assert!(
        anna_log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["entry"]["action"] == "audit_query" && e["entry"]["actor"]["kind"] == "staff")
    );

    // Statistics: the chart is there, and the table has the numbers.
    let stats = dpo.get(app.url("/dpo/stats?lang=en")).send().await.unwrap();
    assert_eq!(stats.status(), 200);
    let stats = stats.text().await.unwrap();
    assert!(stats.contains("<figure class=\"dpo-chart\"") && stats.contains("chart-bar bar-100"), "{stats}");
    assert!(stats.contains("<figcaption id=\"stats-chart-title\">") && stats.contains("stats-chart-desc"), "{stats}");
    let month =
        tresor::http::i18n::month_label(tresor::policy::Lang::En, &tresor::http::i18n::german_month(app.clock.now()));
    assert!(
        stats.contains(&format!(
            "<th scope=\"row\">Housing Benefit Office</th><td>{month}</td><td class=\"number\">3</td><td class=\"number\">0</td>"
        )),
        "{stats}"
    );
    assert!(
        stats.contains(&format!(
            "<th scope=\"row\">Day-care Office (Youth Welfare Office)</th><td>{month}</td><td class=\"number\">1</td><td class=\"number\">1</td>"
        )),
        "{stats}"
    );
    assert_eq!(stats.matches("<li class=\"chart-row\">").count(), 2, "one bar per department and month");
    assert!(
        stats.contains("<span class=\"chart-value\">3</span>")
            && stats.contains("<span class=\"chart-value\">1</span>"),
        "the bars carry their numbers"
    );
    let after_stats = entries(&dpo, &app, "action=audit_query&limit=1000").await;
    assert!(entry_list(&after_stats).iter().any(|e| e["reason"] == "dpo_stats"));
    app.stop().await;
}

/// The statistics count the chosen period only (the last 12 months unless
/// chosen otherwise), say which it is, and refuse a period they do not offer.
async fn dpo_stats_count_the_chosen_period(backend: Backend) {
    let policies = policy_dir();
    // Sessions that outlast the four months the test's clock jumps.
    let app = TestApp::start_with(TestAppOptions {
        staff_issuer: true,
        policy_dir: Some(policies.path().to_owned()),
        adjust_config: Some(|config| {
            config.session_idle_timeout_seconds = 200 * 24 * 3600;
            config.session_absolute_timeout_seconds = 200 * 24 * 3600;
        }),
        ..TestAppOptions::new(backend)
    })
    .await;
    let (_anna, anna_id) = anna_acts(&app).await;
    let dpo = TestApp::browser();
    assert_eq!(app.staff_login(&dpo, DPO).await.status(), 200);
    departments_access(&app, &anna_id).await;
    let then = tresor::http::i18n::german_month(app.clock.now());
    // Four months later, one more release by the Wohngeldstelle.
    app.clock.advance(chrono::Duration::days(122));
    let now = tresor::http::i18n::german_month(app.clock.now());
    let audit = app.state.vault.audit();
    audit.record(release(&anna_id, "wohngeldstelle", "housing_benefit", Outcome::Success, None)).await.unwrap();
    let label = |month: &str| tresor::http::i18n::month_label(tresor::policy::Lang::En, month);
    let row = |month: &str, granted: u32| {
        format!(
            "<th scope=\"row\">Housing Benefit Office</th><td>{}</td><td class=\"number\">{granted}</td>",
            label(month)
        )
    };

    let stats = dpo.get(app.url("/dpo/stats?lang=en")).send().await.unwrap().text().await.unwrap();
    let first = tresor::http::i18n::months_back(&now, 11).unwrap();
    assert!(stats.contains(&format!("<strong>Shown: {} to {}.</strong>", label(&first), label(&now))), "{stats}");
    assert!(stats.contains("<option value=\"12\" selected>Last 12 months</option>"), "{stats}");
    assert!(stats.contains(&row(&then, 3)) && stats.contains(&row(&now, 1)), "{stats}");

    let recent = dpo.get(app.url("/dpo/stats?period=3&lang=en")).send().await.unwrap();
    assert_eq!(recent.status(), 200);
    let recent = recent.text().await.unwrap();
    let first = tresor::http::i18n::months_back(&now, 2).unwrap();
    assert!(recent.contains(&format!("<strong>Shown: {} to {}.</strong>", label(&first), label(&now))), "{recent}");
    assert!(recent.contains(&row(&now, 1)), "{recent}");
    assert!(!recent.contains(&label(&then)), "the older month is not counted: {recent}");
    assert!(!recent.contains("Day-care Office"), "{recent}");
    assert_eq!(recent.matches("<li class=\"chart-row\">").count(), 1);

    let all = dpo.get(app.url("/dpo/stats?period=all&lang=de")).send().await.unwrap().text().await.unwrap();
    let german = |month: &str| tresor::http::i18n::month_label(tresor::policy::Lang::De, month);
    assert!(all.contains(&format!("<strong>Gezeigt: alle Monate bis {}.</strong>", german(&now))), "{all}");
    assert!(all.contains("<option value=\"all\" selected>Alle Monate</option>"), "{all}");
    assert!(all.contains(&german(&then)) && all.contains("Kita-Amt (Jugendamt)"), "{all}");

    for bad in ["period=7", "period=letzte", "period=3&period=6"] {
        let refused = dpo.get(app.url(&format!("/dpo/stats?{bad}&lang=en"))).send().await.unwrap();
        assert_eq!(refused.status(), 400, "{bad}");
        let html = refused.text().await.unwrap();
        assert!(html.contains("aria-invalid=\"true\"") && !html.contains("<svg"), "{bad}: {html}");
        if bad != "period=3&period=6" {
            assert!(html.contains("Please choose one of the offered periods."), "{bad}: {html}");
        }
    }
    app.stop().await;
}

async fn verify_reports_an_untouched_log_and_a_forged_checkpoint(backend: Backend) {
    let (app, _policies) = start(backend).await;
    let (_anna, anna_id) = anna_acts(&app).await;
    departments_access(&app, &anna_id).await;
    let dpo = TestApp::browser();
    app.staff_login(&dpo, DPO).await;
    let signed = app.state.vault.audit().checkpoint().await.unwrap().expect("a checkpoint");

    let page = dpo.get(app.url("/dpo/verify?lang=en")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("The log is unchanged."), "{page}");
    assert!(page.contains(&format!("Latest checkpoint: {} entries", signed.size)), "{page}");
    assert!(page.contains("The signature is valid."), "{page}");
    assert!(page.contains("The hash tree was recomputed from all"), "{page}");
    let german = dpo.get(app.url("/dpo/verify?lang=de")).send().await.unwrap().text().await.unwrap();
    assert!(german.contains("Das Protokoll ist unverändert."), "{german}");

    // A checkpoint signed by another key does not pass.
    let size = app.store.audit_size().await.unwrap() + 100;
    let other = FileKeyProvider::ephemeral(&ring::rand::SystemRandom::new()).unwrap();
    let origin = app.state.vault.audit().origin().to_owned();
    let forged =
        Checkpoint { origin: origin.clone(), size, root: [7; 32] }.sign(&origin, other.signing_key()).expect("sign");
    app.store.insert_checkpoint(size, &[7; 32], &forged, app.clock.now()).await.unwrap();
    let page = dpo.get(app.url("/dpo/verify?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("The check found problems"), "{page}");
    assert!(page.contains(&format!("Checkpoint over {size} entries: the signature is not valid.")), "{page}");
    let queries = entries(&dpo, &app, "action=audit_query").await;
    assert!(entry_list(&queries).iter().any(|e| e["reason"] == "dpo_verify"));
    app.stop().await;
}

/// One verifier: an insider who rewrites an entry's `subject` column hides
/// it from the citizen's view; the DPO page and `tresor audit verify` run
/// the same check and both name the entry.
async fn verify_page_and_cli_find_a_rewritten_subject_column(backend: Backend) {
    let (app, _policies) = start(backend).await;
    let (_anna, anna_id) = anna_acts(&app).await;
    departments_access(&app, &anna_id).await;
    app.state.vault.audit().checkpoint().await.unwrap().expect("a checkpoint");
    let dpo = TestApp::browser();
    app.staff_login(&dpo, DPO).await;
    let before = dpo.get(app.url("/dpo/verify?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(before.contains("The log is unchanged."), "{before}");

    let hidden: i64 = {
        let all = app.store.audit_entries(&Default::default(), 1000, None).await.unwrap();
        all.iter().find(|row| row.subject.is_some()).expect("an entry about a citizen").sequence
    };
    // An insider with DDL rights drops the append-only trigger first.
    let drop_trigger = if app.postgres_url().is_some() {
        "DROP TRIGGER audit_entries_append_only ON audit_entries"
    } else {
        "DROP TRIGGER audit_entries_append_only_update"
    };
    app.execute_as_insider(drop_trigger).await;
    let changed = app
        .execute_as_insider(&format!("UPDATE audit_entries SET subject = 'someone-else' WHERE sequence = {hidden}"))
        .await;
    assert_eq!(changed, 1);

    let page = dpo.get(app.url("/dpo/verify?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("The check found problems"), "{page}");
    assert!(
        page.contains(&format!("Entry {hidden}: the search column “subject” does not match the signed text.")),
        "{page}"
    );
    assert!(!page.contains("The log is unchanged."), "{page}");
    let (_, public_key) =
        tresor::audit::checkpoint::parse_verifier_key(&app.state.vault.audit().verifier_key()).unwrap();
    let cli = tresor::audit::verify::verify_log(app.store.as_ref(), &public_key, None, &mut |_, _| {}).await;
    assert!(
        matches!(cli, Err(tresor::audit::verify::VerifyError::ColumnMismatch { index, column: "subject" }) if index == hidden as u64),
        "{cli:?}"
    );
    app.stop().await;
}

async fn citizen_and_staff_sessions_do_not_mix(backend: Backend) {
    let (app, _policies) = start(backend).await;
    let dpo_routes =
        ["/dpo", "/dpo/stats", "/dpo/verify", "/dpo/export.csv", "/dpo/export.jsonl", "/api/v1/dpo/entries"];

    // A citizen session opens no DPO route.
    let (anna, _) = anna_acts(&app).await;
    for route in dpo_routes {
        let status = anna.get(app.url(route)).send().await.unwrap().status().as_u16();
        assert!(status == 401 || status == 403, "{route} answered {status} to a citizen");
    }
    let api = anna.get(app.url("/api/v1/dpo/entries")).send().await.unwrap();
    assert_eq!(error_code(api).await, "staff_not_logged_in");
    let login_page =
        anna.get(app.url("/dpo")).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(login_page.contains("/staff/login?return_to=%2Fdpo"), "the way in is the staff login");

    // Nor does a citizen session id presented under the staff cookie name.
    let (citizen_browser, jar) = TestApp::browser_with_jar();
    app.login(&citizen_browser, "anna", None).await;
    let citizen_cookie = app.cookies_for(&jar).unwrap();
    let citizen_token = citizen_cookie
        .split("; ")
        .find_map(|pair| pair.strip_prefix("tresor="))
        .expect("citizen session cookie")
        .to_owned();
    let raw = reqwest::Client::new();
    let forged =
        raw.get(app.url("/api/v1/dpo/entries")).header("cookie", format!("tresor_staff={citizen_token}")).send().await;
    assert_eq!(forged.unwrap().status(), 401);

    // The DPO's staff session opens no citizen route, under either cookie name.
    let (dpo, dpo_jar) = TestApp::browser_with_jar();
    assert_eq!(app.staff_login(&dpo, DPO).await.status(), 200);
    assert_eq!(dpo.get(app.url("/api/v1/evidence")).send().await.unwrap().status(), 401);
    assert_eq!(dpo.get(app.url("/api/v1/session")).send().await.unwrap().status(), 401);
    assert_eq!(dpo.get(app.url("/api/v1/audit/mine")).send().await.unwrap().status(), 401);
    let staff_cookie = app.cookies_for(&dpo_jar).unwrap();
    let staff_token =
        staff_cookie.split("; ").find_map(|pair| pair.strip_prefix("tresor_staff=")).expect("staff cookie").to_owned();
    let forged = raw.get(app.url("/api/v1/evidence")).header("cookie", format!("tresor={staff_token}")).send().await;
    assert_eq!(forged.unwrap().status(), 401);
    let genuine =
        raw.get(app.url("/api/v1/dpo/entries")).header("cookie", format!("tresor_staff={staff_token}")).send().await;
    assert_eq!(genuine.unwrap().status(), 200);

    // The staff issuer is not a citizen login.
    let via_citizen_login =
        TestApp::browser().get(app.url("/login?issuer=staff&login_hint=clara")).send().await.unwrap();
    assert_eq!(via_citizen_login.status(), 400);
    assert_eq!(error_code(via_citizen_login).await, "unknown_issuer");

    // Staff who are not DPOs: 403, no session, and the refusal is logged.
    let ben = TestApp::browser();
    let refused = app.staff_login(&ben, NOT_A_DPO).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("Datenschutz-Beauftragte"));
    assert_eq!(ben.get(app.url("/api/v1/dpo/entries")).send().await.unwrap().status(), 401);
    let logins = entries(&dpo, &app, "action=login&outcome=refused").await;
    let not_a_dpo: Vec<&Value> = entry_list(&logins).iter().filter(|e| e["reason"] == "not_a_dpo").collect();
    assert_eq!(not_a_dpo.len(), 1);
    assert_eq!(not_a_dpo[0]["actor_kind"], "staff");
    assert_ne!(not_a_dpo[0]["actor_id"].as_str(), Some(persona_sub(NOT_A_DPO)));

    // Logout needs the form's CSRF token and ends the staff session.
    let page = dpo.get(app.url("/dpo")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_from_page(&page);
    let no_token = dpo.post(app.url("/staff/logout")).form(&[("csrf", "wrong")]).send().await.unwrap();
    assert_eq!(no_token.status(), 403);
    // A logout that cannot be recorded fails and the session stays (fail closed).
    app.audit_fault.set_failing(true);
    let unrecorded = dpo.post(app.url("/staff/logout")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(unrecorded.status(), 503);
    app.audit_fault.set_failing(false);
    assert_eq!(dpo.get(app.url("/api/v1/dpo/entries")).send().await.unwrap().status(), 200, "still logged in");
    let logout = dpo.post(app.url("/staff/logout")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert!(logout.status().is_success(), "{}", logout.status());
    assert_eq!(dpo.get(app.url("/api/v1/dpo/entries")).send().await.unwrap().status(), 401);
    let replay =
        raw.get(app.url("/api/v1/dpo/entries")).header("cookie", format!("tresor_staff={staff_token}")).send().await;
    assert_eq!(replay.unwrap().status(), 401);
    // The citizen is still logged in: staff logout touched only staff sessions.
    assert_eq!(anna.get(app.url("/api/v1/session")).send().await.unwrap().status(), 200);
    app.stop().await;
}

async fn dpo_queries_fail_closed_when_the_log_is_down(backend: Backend) {
    let (app, _policies) = start(backend).await;
    let dpo = TestApp::browser();
    app.staff_login(&dpo, DPO).await;
    app.audit_fault.set_failing(true);
    let response = dpo.get(app.url("/api/v1/dpo/entries")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(error_code(response).await, "audit_unavailable");
    assert_eq!(dpo.get(app.url("/dpo/export.csv")).send().await.unwrap().status(), 503);
    app.audit_fault.set_failing(false);
    assert_eq!(dpo.get(app.url("/api/v1/dpo/entries")).send().await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn without_a_staff_issuer_there_is_no_staff_login() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::browser();
    assert_eq!(browser.get(app.url("/staff/login")).send().await.unwrap().status(), 404);
    let response = browser.get(app.url("/api/v1/dpo/entries")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "staff_login_not_configured");
    app.stop().await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await; })*
        }
    };
}

on_both_backends!(
    dpo_queries_filters_and_exports,
    dpo_stats_count_the_chosen_period,
    verify_reports_an_untouched_log_and_a_forged_checkpoint,
    verify_page_and_cli_find_a_rewritten_subject_column,
    citizen_and_staff_sessions_do_not_mix,
    dpo_queries_fail_closed_when_the_log_is_down,
);
