//! The layering ARCHITECTURE.md promises, checked on the source: a module
//! named on the left never names a module on the right (`crate::<module>`).
//! A new import across a boundary fails here, with the file that made it.

use std::path::{Path, PathBuf};

/// (module, modules it must not use).
const RULES: &[(&str, &[&str])] = &[
    // The store persists what it is handed: no audit vocabulary, no keys, no rules.
    ("store", &["audit", "vault", "http", "crypto", "policy", "identity"]),
    // Cryptography does no I/O and knows no persistence or rules.
    ("crypto", &["store", "audit", "vault", "http", "policy", "identity"]),
    // The release decision is pure.
    ("policy", &["store", "audit", "vault", "http", "crypto", "identity"]),
    ("audit", &["vault", "http", "identity"]),
    ("vault", &["http"]),
];

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// The module's files: `src/<module>.rs` and everything under `src/<module>/`.
fn module_files(module: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        files.push(single);
    }
    let dir = src.join(module);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    }
    files
}

/// Where `text` names `crate::<module>` (as a whole path segment).
fn names_module(text: &str, module: &str) -> bool {
    let needle = format!("crate::{module}");
    text.match_indices(&needle).any(|(at, _)| {
        let after = text[at + needle.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn no_module_imports_across_a_boundary() {
    let mut violations = Vec::new();
    for (module, forbidden) in RULES {
        let files = module_files(module);
        assert!(!files.is_empty(), "module {module} has no files: the rule checks nothing");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for other in *forbidden {
                if names_module(&text, other) {
                    violations.push(format!("{} names crate::{other}", file.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
}

/// (module, calls it must not make): `http` only adapts. It holds no store
/// or key handle (`vault.store()`, `vault.keys()`): every effect and its
/// audit entry is the domain's; and the audit log is read through the domain
/// (`Vault::citizen_log`, `vault::DpoQuery`), which checks and records.
/// The domain names no web framework and no database driver (the store's
/// errors carry none: `StoreError` is driver-free).
const FORBIDDEN_CALLS: &[(&str, &[&str])] = &[
    (
        "http",
        &["vault.store()", "vault.keys()", ".audit_entries(", ".audit_entries_newest_first(", "sqlx::", "rusqlite::"],
    ),
    ("vault", &["axum::", "sqlx::", "rusqlite::"]),
    ("audit", &["axum::", "sqlx::", "rusqlite::"]),
    ("policy", &["axum::", "sqlx::", "rusqlite::"]),
    ("crypto", &["axum::", "sqlx::", "rusqlite::"]),
    ("store", &["axum::"]),
];

#[test]
fn http_holds_no_store_or_key_handle_and_the_domain_names_no_framework_or_driver() {
    let mut violations = Vec::new();
    for (module, calls) in FORBIDDEN_CALLS {
        for file in module_files(module) {
            let text = std::fs::read_to_string(&file).unwrap();
            for call in *calls {
                if text.contains(call) {
                    violations.push(format!("{} calls {call}", file.display()));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_check_sees_an_import_and_ignores_a_longer_name() {
    assert!(names_module("use crate::audit::{Action};", "audit"));
    assert!(names_module("let x = crate::audit;", "audit"));
    assert!(!names_module("use crate::audit_trail::X;", "audit"));
    assert!(!names_module("use crate::store::X;", "audit"));
}
