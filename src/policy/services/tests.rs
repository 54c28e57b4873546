//! Departments and services: loading, every refusal with its file and line.

use super::*;

const DEPARTMENTS_PATH: &str = "policies/departments.toml";
const SERVICE_PATH: &str = "policies/services/test_service.toml";

/// Marks the line a test expects an error on.
const MARK: &str = "# <- error";

const TYPES: &str = r#"
[[evidence_type]]
id = "income_statement"
version = 1
name = { de = "Einkommensnachweis", en = "Income statement" }
file_allowed = true
min_login_level = "substantial"

[[evidence_type.field]]
name = "net_monthly_income"
label = { de = "Netto", en = "Net" }
kind = "money"
required = true
sensitivity = "normal"

[[evidence_type]]
id = "paper_note"
version = 1
name = { de = "Notiz", en = "Note" }
file_allowed = false

[[evidence_type.field]]
name = "text"
label = { de = "Text", en = "Text" }
kind = "text"
max_length = 10
required = true
sensitivity = "normal"

[[evidence_type]]
id = "health_pass"
version = 1
name = { de = "Gesundheitspass", en = "Health pass" }
file_allowed = true
min_login_level = "high"

[[evidence_type.field]]
name = "degree"
label = { de = "Grad", en = "Degree" }
kind = "integer"
min = 20
max = 100
required = true
sensitivity = "special_category"

[[evidence_type]]
id = "low_special"
version = 1
name = { de = "Test", en = "Test" }
file_allowed = true

[[evidence_type.field]]
name = "diagnosis"
label = { de = "Diagnose", en = "Diagnosis" }
kind = "text"
max_length = 100
required = true
sensitivity = "special_category"
"#;

const DEPARTMENTS: &str = r#"
[[department]]
id = "wohngeldstelle"
name = { de = "Wohngeldstelle", en = "Housing Benefit Office" }
certificate_subject = "CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE"

[[department]]
id = "kita_amt"
name = { de = "Kita-Amt", en = "Day-care Office" }
spki_sha256 = ["00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"]
"#;

/// A valid service; tests replace one line with [`with_line`].
const GOOD_SERVICE: &str = r#"id = "housing_benefit"
department = "wohngeldstelle"
name = { de = "Wohngeld", en = "Housing benefit" }
purpose = { de = "Prüfung des Antrags", en = "Assessing the application" }
legal_basis = { de = "§ 23 WoGG", en = "Section 23 WoGG" }
fields = ["income_statement.net_monthly_income"]
file = true
max_grant_duration_days = 90
max_uses = 3
min_login_level = "substantial"
"#;

fn types() -> EvidenceTypes {
    EvidenceTypes::from_toml(TYPES, Path::new("policies/evidence-types.toml")).expect("test types parse")
}

fn departments() -> Departments {
    Departments::from_toml(DEPARTMENTS, Path::new(DEPARTMENTS_PATH)).expect("test departments parse")
}

fn parse_service(source: &str) -> Result<Services, PolicyError> {
    Services::from_sources(&[(PathBuf::from(SERVICE_PATH), source.to_owned())], &departments(), &types())
}

/// `GOOD_SERVICE` with the line starting with `key =` replaced by
/// `replacement`, marked as the expected error line.
fn with_line(key: &str, replacement: &str) -> String {
    let prefix = format!("{key} =");
    let mut replaced = false;
    let lines: Vec<String> = GOOD_SERVICE
        .lines()
        .map(|line| {
            if line.starts_with(&prefix) {
                replaced = true;
                format!("{replacement} {MARK}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(replaced, "no line for {key}");
    lines.join("\n") + "\n"
}

#[track_caller]
fn assert_error_on_marked_line(error: PolicyError, source: &str, path: &str, expected: &str) {
    let marked: Vec<usize> =
        source.lines().enumerate().filter(|(_, line)| line.contains(MARK)).map(|(index, _)| index + 1).collect();
    assert_eq!(marked.len(), 1, "test source needs exactly one mark");
    let PolicyError::Invalid { path: error_path, line, message } = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(error_path, Path::new(path));
    assert_eq!(*line, marked[0], "wrong line for: {message}");
    assert!(message.contains(expected), "message {message:?} does not contain {expected:?}");
    assert!(error.to_string().starts_with(&format!("{path}:{}: ", marked[0])), "{error}");
}

#[track_caller]
fn assert_service_error(source: &str, expected: &str) {
    let error = parse_service(source).expect_err("service should be rejected");
    assert_error_on_marked_line(error, source, SERVICE_PATH, expected);
}

#[track_caller]
fn assert_departments_error(source: &str, expected: &str) {
    let error = Departments::from_toml(source, Path::new(DEPARTMENTS_PATH)).expect_err("should be rejected");
    assert_error_on_marked_line(error, source, DEPARTMENTS_PATH, expected);
}

#[test]
fn field_ref_parses_only_type_dot_field() {
    let field = FieldRef::parse("income_statement.net_monthly_income").expect("valid");
    assert_eq!(field.evidence_type(), "income_statement");
    assert_eq!(field.field(), "net_monthly_income");
    assert_eq!(field.to_string(), "income_statement.net_monthly_income");
    for bad in ["income_statement", "a.b.c", ".b", "a.", " a.b", "A.b", "a.b ", "a-b.c", ""] {
        assert_eq!(FieldRef::parse(bad), None, "{bad:?}");
    }
    assert_eq!(FieldRef::new("a", "b"), FieldRef::parse("a.b"));
}

#[test]
fn good_departments_parse() {
    let departments = departments();
    assert_eq!(departments.len(), 2);
    let wohngeld = departments.get("wohngeldstelle").expect("present");
    assert_eq!(wohngeld.certificate_subject.as_deref(), Some("CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE"));
    assert!(wohngeld.spki_sha256.is_empty());
    let kita = departments.get("kita_amt").expect("present");
    assert_eq!(kita.certificate_subject, None);
    assert_eq!(kita.spki_sha256.len(), 1);
    assert_eq!(kita.spki_sha256[0][0], 0x00);
    assert_eq!(kita.spki_sha256[0][31], 0xff);
}

#[test]
fn without_pins_drops_pins_and_pin_only_departments() {
    let source = format!(
        "{DEPARTMENTS}\n[[department]]\nid = \"both\"\nname = {{ de = \"B\", en = \"B\" }}\n\
             certificate_subject = \"CN=B\"\nspki_sha256 = [\"{}\"]\n",
        "ab".repeat(32)
    );
    let departments = Departments::from_toml(&source, Path::new(DEPARTMENTS_PATH)).expect("parse");
    let unpinned = departments.without_pins();
    let ids: Vec<&str> = unpinned.iter().map(|department| department.id.as_str()).collect();
    assert_eq!(ids, ["wohngeldstelle", "both"]);
    assert!(unpinned.iter().all(|department| department.spki_sha256.is_empty()));
    assert_eq!(unpinned.get("both").and_then(|d| d.certificate_subject.as_deref()), Some("CN=B"));
    assert_eq!(departments.get("both").map(|d| d.spki_sha256.len()), Some(1));
}

#[test]
fn colon_separated_pins_are_accepted() {
    let pin = ["ab"; 32].join(":");
    let source =
        format!("[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\nspki_sha256 = [\"{pin}\"]\n");
    let departments = Departments::from_toml(&source, Path::new(DEPARTMENTS_PATH)).expect("parses");
    assert_eq!(departments.get("a").map(|department| department.spki_sha256.clone()), Some(vec![[0xab; 32]]));
}

#[test]
fn department_without_subject_or_pin_is_rejected() {
    let source = format!(
        "{DEPARTMENTS}\n[[department]]\nid = \"buergeramt\" {MARK}\nname = {{ de = \"Bürgeramt\", en = \"Citizens' Office\" }}\n"
    );
    assert_departments_error(&source, "needs a `certificate_subject` or at least one `spki_sha256` pin");
}

#[test]
fn duplicate_department_id_is_rejected() {
    let source = format!(
        "{DEPARTMENTS}\n[[department]]\nid = \"kita_amt\" {MARK}\nname = {{ de = \"X\", en = \"X\" }}\ncertificate_subject = \"CN=X\"\n"
    );
    assert_departments_error(&source, "duplicate department id `kita_amt` (first defined on line");
}

#[test]
fn invalid_department_id_is_rejected() {
    let source = format!(
        "[[department]]\nid = \"Kita-Amt\" {MARK}\nname = {{ de = \"X\", en = \"X\" }}\ncertificate_subject = \"CN=X\"\n"
    );
    assert_departments_error(&source, "department id `Kita-Amt` must start with a lowercase letter");
}

#[test]
fn bad_pin_is_rejected() {
    let source =
        format!("[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\nspki_sha256 = [\"abcd\"] {MARK}\n");
    assert_departments_error(&source, "invalid `spki_sha256` pin; expected 64 hexadecimal characters");
}

#[test]
fn shared_subject_or_pin_is_rejected() {
    let source = format!(
        "{DEPARTMENTS}\n[[department]]\nid = \"x\"\nname = {{ de = \"X\", en = \"X\" }}\ncertificate_subject = \"CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE\" {MARK}\n"
    );
    assert_departments_error(&source, "same `certificate_subject` as the department on line 5");
    let source = format!(
        "{DEPARTMENTS}\n[[department]]\nid = \"x\"\nname = {{ de = \"X\", en = \"X\" }}\nspki_sha256 = [\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"] {MARK}\n"
    );
    assert_departments_error(&source, "repeats the `spki_sha256` pin already given on line 10");
}

#[test]
fn empty_subject_and_department_name_are_rejected() {
    let source = format!(
        "[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\ncertificate_subject = \" \" {MARK}\n"
    );
    assert_departments_error(&source, "invalid `certificate_subject`");
    let source = format!(
        "[[department]]\nid = \"a\"\nname = {{ de = \"\", en = \"A\" }} {MARK}\ncertificate_subject = \"CN=A\"\n"
    );
    assert_departments_error(&source, "department `a`: `name` has an empty `de` text");
}

#[test]
fn unknown_department_key_and_toml_syntax_errors_name_the_line() {
    let source = format!(
        "[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\ncertificate_subject = \"CN=A\"\nsubject = \"CN=A\" {MARK}\n"
    );
    assert_departments_error(&source, "unknown field `subject`");
    let source = format!("[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = {MARK}\n");
    assert_departments_error(&source, "");
}

#[test]
fn good_service_parses() {
    let services = parse_service(GOOD_SERVICE).expect("parses");
    let service = services.get("housing_benefit").expect("present");
    assert_eq!(service.department, "wohngeldstelle");
    assert_eq!(service.fields, vec![FieldRef::parse("income_statement.net_monthly_income").expect("valid")]);
    assert_eq!(service.evidence_types(), vec!["income_statement"]);
    assert!(service.file);
    assert_eq!(service.max_grant_duration_days, 90);
    assert_eq!(service.max_grant_duration(), chrono::Duration::days(90));
    assert_eq!(service.max_uses, 3);
    assert_eq!(service.min_login_level, LoginLevel::Substantial);
    assert_eq!(service.legal_basis.de, "§ 23 WoGG");
    assert_eq!(services.of_department("wohngeldstelle").count(), 1);
    assert_eq!(services.of_department("kita_amt").count(), 0);
}

#[test]
fn unknown_department_is_rejected() {
    let source = with_line("department", "department = \"bauamt\"");
    assert_service_error(&source, "unknown department `bauamt`");
}

#[test]
fn unknown_evidence_type_is_rejected() {
    let source = with_line("fields", "fields = [\"tax_return.income\"]");
    assert_service_error(&source, "unknown evidence type `tax_return` in `tax_return.income`");
}

#[test]
fn unknown_field_is_rejected_on_its_own_line() {
    let source = GOOD_SERVICE.replace(
        "fields = [\"income_statement.net_monthly_income\"]",
        &format!("fields = [\n  \"income_statement.net_monthly_income\",\n  \"income_statement.bonus\", {MARK}\n]"),
    );
    assert_service_error(&source, "evidence type `income_statement` has no field `bonus`");
}

#[test]
fn malformed_repeated_and_empty_fields_are_rejected() {
    let source = with_line("fields", "fields = [\"income_statement\"]");
    assert_service_error(&source, "must be written `evidence_type.field`");
    let source = with_line(
        "fields",
        "fields = [\"income_statement.net_monthly_income\", \"income_statement.net_monthly_income\"]",
    );
    assert_service_error(&source, "lists field `income_statement.net_monthly_income` twice");
    let source = with_line("fields", "fields = []");
    assert_service_error(&source, "has no `fields`");
}

#[test]
fn duplicate_service_ids_across_files_are_rejected() {
    let other_path = "policies/services/z_copy.toml";
    let error = Services::from_sources(
        &[
            (PathBuf::from(SERVICE_PATH), GOOD_SERVICE.to_owned()),
            (PathBuf::from(other_path), format!("\n{GOOD_SERVICE}")),
        ],
        &departments(),
        &types(),
    )
    .expect_err("duplicate");
    assert_eq!(
        error.to_string(),
        format!("{other_path}:2: duplicate service id `housing_benefit` (first defined in {SERVICE_PATH}:1)")
    );
}

#[test]
fn duration_above_maximum_or_not_positive_is_rejected() {
    let source = with_line("max_grant_duration_days", "max_grant_duration_days = 366");
    assert_service_error(&source, "max_grant_duration_days 366; it must be from 1 to 365");
    let source = with_line("max_grant_duration_days", "max_grant_duration_days = 0");
    assert_service_error(&source, "max_grant_duration_days 0");
    let source = with_line("max_grant_duration_days", "max_grant_duration_days = -5");
    assert_service_error(&source, "max_grant_duration_days -5");
    let source = with_line("max_grant_duration_days", "max_grant_duration_days = 365");
    assert!(parse_service(&source).is_ok(), "365 days is allowed");
}

#[test]
fn max_uses_zero_or_above_limit_is_rejected() {
    let source = with_line("max_uses", "max_uses = 0");
    assert_service_error(&source, "max_uses 0; it must be from 1 to 1000");
    let source = with_line("max_uses", "max_uses = 1001");
    assert_service_error(&source, "max_uses 1001; it must be from 1 to 1000");
    let source = with_line("max_uses", "max_uses = 1000");
    assert!(parse_service(&source).is_ok(), "1000 uses is allowed");
}

#[test]
fn special_category_fields_need_login_level_high() {
    let source = GOOD_SERVICE
        .replace("income_statement.net_monthly_income", "low_special.diagnosis")
        .replace("min_login_level = \"substantial\"", &format!("min_login_level = \"substantial\" {MARK}"));
    assert_service_error(&source, "special-category field `low_special.diagnosis` (GDPR Art. 9)");
    let source = source.replace(&format!("\"substantial\" {MARK}"), "\"high\"");
    assert!(parse_service(&source).is_ok(), "high is enough");
}

#[test]
fn login_level_below_the_evidence_type_level_is_rejected() {
    let source = with_line("min_login_level", "min_login_level = \"low\"");
    assert_service_error(&source, "below the level `substantial` that evidence type `income_statement` needs");
}

#[test]
fn unknown_login_level_is_rejected() {
    let source = with_line("min_login_level", "min_login_level = \"medium\"");
    assert_service_error(&source, "unknown variant `medium`");
}

#[test]
fn empty_purpose_or_legal_basis_is_rejected() {
    let source = with_line("purpose", "purpose = { de = \"\", en = \"Assessing\" }");
    assert_service_error(&source, "service `housing_benefit`: `purpose` has an empty `de` text");
    let source = with_line("legal_basis", "legal_basis = { de = \"§ 23 WoGG\", en = \"  \" }");
    assert_service_error(&source, "service `housing_benefit`: `legal_basis` has an empty `en` text");
}

#[test]
fn missing_legal_basis_is_rejected() {
    let source = GOOD_SERVICE
        .lines()
        .filter(|line| !line.starts_with("legal_basis"))
        .map(|line| if line.starts_with("id =") { format!("{line} {MARK}") } else { line.to_owned() })
        .collect::<Vec<_>>()
        .join("\n");
    assert_service_error(&source, "missing field `legal_basis`");
}

#[test]
fn file_release_for_a_type_without_files_is_rejected() {
    let source = GOOD_SERVICE
        .replace("income_statement.net_monthly_income", "paper_note.text")
        .replace("file = true", &format!("file = true {MARK}"))
        .replace("\"substantial\"", "\"low\"");
    assert_service_error(&source, "evidence type `paper_note` does not allow files");
    let source = source.replace(&format!("file = true {MARK}"), "file = false");
    assert!(parse_service(&source).is_ok(), "without files it is fine");
}

#[test]
fn invalid_service_id_and_unknown_keys_are_rejected() {
    let source = with_line("id", "id = \"Housing Benefit\"");
    assert_service_error(&source, "service id `Housing Benefit` must start with a lowercase letter");
    let source = format!("{GOOD_SERVICE}retention_days = 3 {MARK}\n");
    assert_service_error(&source, "unknown field `retention_days`");
}

#[test]
fn defaults_are_sensible_when_not_given_and_checked_when_given() {
    let services = parse_service(GOOD_SERVICE).expect("good service");
    let service = services.get("housing_benefit").expect("housing_benefit");
    // Not the maximum (90 days, 3 uses): 30 days and one use.
    assert_eq!((service.default_duration_days, service.default_uses), (30, 1));
    assert_eq!((service.legal_basis_plain.as_ref(), service.other_ways.as_ref()), (None, None));

    let source = format!(
        "{GOOD_SERVICE}default_duration_days = 14\ndefault_uses = 2\n\
         legal_basis_plain = {{ de = \"Das Gesetz erlaubt es.\", en = \"The law allows it.\" }}\n\
         other_ways = {{ de = \"Im Bürgerbüro.\", en = \"At the citizens' office.\" }}\n"
    );
    let services = parse_service(&source).expect("service with defaults");
    let service = services.get("housing_benefit").expect("housing_benefit");
    assert_eq!((service.default_duration_days, service.default_uses), (14, 2));
    assert_eq!(service.legal_basis_plain.as_ref().map(|text| text.de.as_str()), Some("Das Gesetz erlaubt es."));
    assert_eq!(service.other_ways.as_ref().map(|text| text.en.as_str()), Some("At the citizens' office."));

    let source = format!("{GOOD_SERVICE}default_duration_days = 91 {MARK}\n");
    assert_service_error(&source, "default_duration_days 91; it must be from 1 to its max_grant_duration_days (90)");
    let source = format!("{GOOD_SERVICE}default_uses = 0 {MARK}\n");
    assert_service_error(&source, "default_uses 0; it must be from 1 to its max_uses (3)");
    // A maximum below 30 days is the default itself.
    let source = with_line("max_grant_duration_days", "max_grant_duration_days = 7");
    let services = parse_service(&source).expect("a short service");
    assert_eq!(services.get("housing_benefit").expect("service").default_duration_days, 7);
}

#[test]
fn a_department_may_name_its_contact() {
    let source = format!(
        "{DEPARTMENTS}\n[[department]]\nid = \"buergerbuero\"\nname = {{ de = \"Bürgerbüro\", en = \"Citizens' office\" }}\n\
         certificate_subject = \"CN=Buergerbuero,O=Stadt Musterstadt,C=DE\"\n\
         contact = {{ de = \"Rathaus, Zimmer 1\", en = \"Town hall, room 1\" }}\n"
    );
    let departments = Departments::from_toml(&source, Path::new(DEPARTMENTS_PATH)).expect("departments");
    let office = departments.get("buergerbuero").expect("buergerbuero");
    assert_eq!(office.contact.as_ref().map(|contact| contact.en.as_str()), Some("Town hall, room 1"));
    assert!(departments.get("wohngeldstelle").expect("wohngeldstelle").contact.is_none());
}

#[test]
fn files_are_needed_unless_the_policy_lets_citizens_leave_them_out() {
    let services = parse_service(GOOD_SERVICE).expect("good service");
    let service = services.get("housing_benefit").expect("housing_benefit");
    assert!(service.file && !service.file_optional, "without the key the service needs the files");

    let source = format!("{GOOD_SERVICE}file_optional = true\n");
    let services = parse_service(&source).expect("optional files");
    assert!(services.get("housing_benefit").expect("housing_benefit").file_optional);
    let source = format!("{GOOD_SERVICE}file_optional = false\n");
    let services = parse_service(&source).expect("files needed, said explicitly");
    assert!(!services.get("housing_benefit").expect("housing_benefit").file_optional);

    // Leaving out files a service never receives makes no sense: refused.
    let source = GOOD_SERVICE.replace("file = true", "file = false");
    let source = format!("{source}file_optional = true {MARK}\n");
    assert_service_error(&source, "has file_optional = true but releases no files (file = false)");
    let source = format!("{GOOD_SERVICE}file_optional = \"yes\" {MARK}\n");
    assert_service_error(&source, "invalid type");
}
