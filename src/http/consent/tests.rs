//! The consent form's parsing: what a submitted form approves and keeps.

use super::*;

const INCOME_ID: &str = "0123456789abcdef0123456789abcdef";
const RENT_ID: &str = "fedcba9876543210fedcba9876543210";

fn form(pairs: &[(&str, &str)]) -> ConsentForm {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    ConsentForm::parse(body.as_bytes())
}

fn field(text: &str) -> FieldRef {
    FieldRef::parse(text).expect("a field reference")
}

#[test]
fn the_submitted_form_keeps_its_csrf_token_out_of_debug_output() {
    let printed = format!("{:?}", form(&[("csrf", "csrf-secret-4f1c9a"), ("decision", "approve")]));
    assert!(!printed.contains("csrf-secret-4f1c9a"), "{printed}");
    assert!(printed.contains("approve") && printed.contains(crate::store::REDACTED), "{printed}");
}

#[test]
fn approval_keeps_checked_fields_of_chosen_documents_only() {
    let form = form(&[
        ("csrf", "token"),
        ("decision", "approve"),
        ("doc.income_statement", INCOME_ID),
        ("doc.rent_certificate", "none"),
        ("doc.residence_certificate", RENT_ID),
        ("field", "income_statement.net_monthly_income"),
        ("field", "income_statement.period_to"),
        ("field", "income_statement.net_monthly_income"),
        ("field", "rent_certificate.monthly_rent"),
        ("duration_days", "30"),
        ("max_uses", "2"),
    ]);
    assert_eq!(form.csrf.as_deref(), Some("token"));
    let approval = form.approval().expect("valid");
    assert_eq!(
        approval.fields,
        [field("income_statement.net_monthly_income"), field("income_statement.period_to")],
        "no repeats; nothing of the type shared with \"none\""
    );
    // The residence certificate has no checked field: not named at all.
    assert_eq!(approval.evidence, [INCOME_ID.parse::<EvidenceId>().expect("id")]);
    assert_eq!((approval.duration_days, approval.max_uses), (30, 2));
}

#[test]
fn approval_problems_have_their_codes() {
    let base = [("doc.income_statement", INCOME_ID), ("field", "income_statement.period_to")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs: Vec<(&str, &str)> = base.to_vec();
        pairs.extend_from_slice(extra);
        form(&pairs).approval().map(|_| ()).map_err(ApprovalProblem::code)
    };
    assert_eq!(with(&[("duration_days", "30"), ("max_uses", "1")]), Ok(()));
    assert_eq!(with(&[("max_uses", "1")]), Err("duration_out_of_range"));
    assert_eq!(with(&[("duration_days", "-3"), ("max_uses", "1")]), Err("duration_out_of_range"));
    assert_eq!(with(&[("duration_days", "30"), ("max_uses", "many")]), Err("uses_out_of_range"));
    assert_eq!(
        with(&[("field", "not a field"), ("duration_days", "30"), ("max_uses", "1")]),
        Err("field_not_in_policy")
    );
    let bad_id = form(&[
        ("doc.income_statement", "../../etc"),
        ("field", "income_statement.period_to"),
        ("duration_days", "30"),
        ("max_uses", "1"),
    ]);
    assert_eq!(bad_id.approval().map(|_| ()).map_err(ApprovalProblem::code), Err("evidence_not_found"));
    // Nothing chosen: an empty approval, which the vault refuses.
    let nothing = form(&[("doc.income_statement", "none"), ("duration_days", "30"), ("max_uses", "1")]);
    let approval = nothing.approval().expect("structurally fine");
    assert!(approval.fields.is_empty() && approval.evidence.is_empty());
}

#[test]
fn selection_from_a_form_keeps_the_choices() {
    let selection = Selection::from_form(&form(&[
        ("doc.income_statement", "none"),
        ("doc.rent_certificate", RENT_ID),
        ("field", "rent_certificate.monthly_rent"),
        ("duration_days", "7"),
    ]));
    assert_eq!(selection.documents.get("income_statement"), Some(&None));
    assert_eq!(selection.documents.get("rent_certificate"), Some(&Some(RENT_ID.to_owned())));
    assert_eq!(selection.fields, Some(vec!["rent_certificate.monthly_rent".to_owned()]));
    assert_eq!((selection.duration_days, selection.max_uses), (Some(7), None));
}

#[test]
fn login_links_stay_local_and_encode_the_return_path() {
    assert_eq!(
        login_href(Some("eid"), LoginLevel::High, "/requests/abc"),
        "/login?issuer=eid&level=high&return_to=%2Frequests%2Fabc"
    );
    assert_eq!(login_href(None, LoginLevel::Substantial, "/x?y=1"), "/login?level=substantial&return_to=%2Fx%3Fy%3D1");
}

#[test]
fn leaving_the_files_out_is_part_of_the_approval_and_kept_for_the_form() {
    let pairs = [
        ("doc.income_statement", INCOME_ID),
        ("field", "income_statement.period_to"),
        ("duration_days", "30"),
        ("max_uses", "1"),
        ("without_files", "yes"),
    ];
    assert!(form(&pairs).approval().expect("valid").without_files);
    assert!(Selection::from_form(&form(&pairs)).without_files, "kept when the form comes back");
    assert!(!form(&pairs[..4]).approval().expect("valid").without_files, "files go along unless said");
    let mut other = pairs.to_vec();
    other[4] = ("without_files", "no");
    assert!(!form(&other).approval().expect("valid").without_files);
}
