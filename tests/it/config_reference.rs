//! The README's configuration reference is generated from the configuration
//! types: every key of `src/config.rs`, its default (read from the loaded
//! defaults where there is one) and its doc comment. The test fails when the
//! README and the code differ, or when a key has no doc comment; run it with
//! `TRESOR_BLESS=1` to rewrite the README's section.

use std::path::Path;

const START: &str = "<!-- configuration reference: generated from src/config.rs by tests/it/config_reference.rs; \
                     TRESOR_BLESS=1 cargo test config_reference rewrites it -->";
const END: &str = "<!-- end of the configuration reference -->";

/// (heading, struct, where its defaults are in the loaded default config).
const SECTIONS: &[(&str, &str, Option<&str>)] = &[
    ("Top level", "Config", Some("")),
    ("`[keys]`", "KeysConfig", Some("keys")),
    ("`[limits]`", "Limits", Some("limits")),
    ("`[proxy]`", "ProxyConfig", Some("proxy")),
    ("`[health]`", "HealthConfig", Some("health")),
    ("`[[issuers]]` and `[staff_issuer]`", "IssuerConfig", None),
    ("`[tls]`", "TlsConfig", None),
    ("`[departments]`", "DepartmentAuthConfig", None),
    ("`[[witnesses]]`", "WitnessConfig", None),
    ("`[city]`", "CityConfig", Some("city")),
];

/// The fields of `pub struct <name>` in `source`, with their doc comments.
fn fields(source: &str, name: &str) -> Vec<(String, String)> {
    let start = source.find(&format!("pub struct {name} {{")).unwrap_or_else(|| panic!("no struct {name}"));
    let mut fields = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in source[start..].lines().skip(1) {
        let line = line.trim();
        if line == "}" {
            break;
        }
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim());
        } else if let Some(field) = line.strip_prefix("pub ").and_then(|rest| rest.split_once(':')) {
            fields.push((field.0.to_owned(), doc.join(" ")));
            doc.clear();
        }
    }
    fields
}

fn default_text(value: Option<&serde_json::Value>) -> String {
    match value {
        None => "—".to_owned(),
        Some(serde_json::Value::Null) => "none".to_owned(),
        Some(serde_json::Value::String(text)) => format!("`{text:?}`"),
        Some(serde_json::Value::Object(_)) => "section below".to_owned(),
        Some(other) => format!("`{other}`"),
    }
}

fn generated() -> String {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config.rs")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let defaults = serde_json::to_value(tresor::config::Config::load(Some(&empty)).unwrap()).unwrap();
    let mut undocumented = Vec::new();
    let mut out = format!("{START}\n");
    for (heading, name, defaults_at) in SECTIONS {
        out.push_str(&format!("\n{heading}:\n\n| key | default | meaning |\n| --- | --- | --- |\n"));
        for (key, doc) in fields(&source, name) {
            if doc.is_empty() {
                undocumented.push(format!("{name}.{key}"));
            }
            let section = defaults_at.map(|at| if at.is_empty() { &defaults } else { &defaults[at] });
            let default = default_text(section.and_then(|section| section.get(&key)));
            out.push_str(&format!("| `{key}` | {default} | {} |\n", doc.replace('|', "\\|")));
        }
    }
    out.push_str(&format!("\n{END}"));
    assert!(undocumented.is_empty(), "configuration keys without a doc comment: {undocumented:?}");
    out
}

#[test]
fn the_readme_lists_every_configuration_key_as_the_code_defines_it() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let expected = generated();
    let start = readme.find(START).expect("README has no generated configuration reference");
    let end = readme.find(END).expect("the configuration reference has no end marker") + END.len();
    if readme[start..end] != expected {
        if std::env::var("TRESOR_BLESS").is_ok_and(|value| value == "1") {
            std::fs::write(&readme_path, format!("{}{expected}{}", &readme[..start], &readme[end..])).unwrap();
        } else {
            panic!("README's configuration reference is out of date; run TRESOR_BLESS=1 cargo test config_reference");
        }
    }
}

#[test]
fn the_parser_reads_fields_and_their_docs() {
    let source =
        "pub struct X {\n    /// One.\n    /// Two.\n    #[serde(default)]\n    pub a: u8,\n    pub b: u8,\n}\n";
    assert_eq!(fields(source, "X"), [("a".to_owned(), "One. Two.".to_owned()), ("b".to_owned(), String::new())]);
}
