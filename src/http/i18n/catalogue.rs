//! The translations: Project Fluent files in `locales/<lang>/*.ftl`, built
//! into the binary, so translators (and a later easy-language variant) work
//! on those files without touching Rust. Every message the code names exists
//! in every locale with the same placeholders; `tests` checks that.
//!
//! A bundle is formatted without Unicode isolation marks around
//! placeables: both languages are left-to-right, and the marks would end up
//! in HTML attributes, JSON messages and CSV cells.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

use crate::policy::Lang;

/// The files of one locale, by audience (the split is for translators; a
/// locale is one bundle).
macro_rules! locale_files {
    ($lang:literal, [$($file:literal),+ $(,)?]) => {
        &[$(($file, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/locales/", $lang, "/", $file)))),+]
    };
}

/// `(file name, text)` of every translation file, per language.
pub(super) fn files(lang: Lang) -> &'static [(&'static str, &'static str)] {
    match lang {
        Lang::De => {
            locale_files!(
                "de",
                ["layout.ftl", "citizen.ftl", "consent.ftl", "dpo.ftl", "errors.ftl", "info.ftl", "reasons.ftl"]
            )
        }
        Lang::En => {
            locale_files!(
                "en",
                ["layout.ftl", "citizen.ftl", "consent.ftl", "dpo.ftl", "errors.ftl", "info.ftl", "reasons.ftl"]
            )
        }
    }
}

/// A value for a placeholder: text, a number (which plural and exact
/// variants such as `[one]` or `[2]` select on), or a size in bytes (written
/// in the message's language, see `format_bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Number(u64),
    Bytes(u64),
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}

impl From<u64> for Arg {
    fn from(number: u64) -> Self {
        Arg::Number(number)
    }
}

impl From<u32> for Arg {
    fn from(number: u32) -> Self {
        Arg::Number(u64::from(number))
    }
}

impl From<usize> for Arg {
    fn from(number: usize) -> Self {
        Arg::Number(u64::try_from(number).unwrap_or(u64::MAX))
    }
}

struct Catalogue {
    de: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| Catalogue { de: bundle(Lang::De), en: bundle(Lang::En) });

/// One locale's bundle. A file that does not parse keeps the messages that
/// do (the problem is logged); `tests` makes sure none is shipped that way.
fn bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let id = match lang {
        Lang::De => unic_langid::langid!("de"),
        Lang::En => unic_langid::langid!("en"),
    };
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    bundle.set_use_isolating(false);
    for (name, text) in files(lang) {
        let resource = FluentResource::try_new((*text).to_owned()).unwrap_or_else(|(resource, errors)| {
            tracing::error!(lang = lang.code(), file = name, ?errors, "translation file does not parse");
            resource
        });
        if let Err(errors) = bundle.add_resource(resource) {
            tracing::error!(lang = lang.code(), file = name, ?errors, "translation file repeats a message");
        }
    }
    bundle
}

fn bundle_of(lang: Lang) -> &'static FluentBundle<FluentResource> {
    match lang {
        Lang::De => &CATALOGUE.de,
        Lang::En => &CATALOGUE.en,
    }
}

/// The message `id` in `lang` with `args` for its placeholders. A missing
/// message shows its id, a missing placeholder its name (both logged), so
/// a gap is visible instead of an empty page.
pub fn format(lang: Lang, id: &str, args: &[(&str, Arg)]) -> String {
    match format_checked(lang, id, args) {
        Ok(text) => text,
        Err((text, problem)) => {
            tracing::error!(lang = lang.code(), id, problem, "translation missing or not filled in");
            text
        }
    }
}

/// [`format`], telling what went wrong: the best text there is and why.
pub(super) fn format_checked(lang: Lang, id: &str, args: &[(&str, Arg)]) -> Result<String, (String, String)> {
    let bundle = bundle_of(lang);
    let Some(pattern) = bundle.get_message(id).and_then(|message| message.value()) else {
        return Err((id.to_owned(), "no such message".to_owned()));
    };
    let mut fluent_args = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        match value {
            Arg::Text(text) => fluent_args.set(*name, FluentValue::from(text.as_str())),
            // Exact below 2^53, which every count here is.
            Arg::Number(number) => fluent_args.set(*name, FluentValue::from(*number as f64)),
            Arg::Bytes(bytes) => fluent_args.set(*name, FluentValue::from(super::format_bytes(lang, *bytes))),
        }
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned();
    if errors.is_empty() { Ok(text) } else { Err((text, format!("{errors:?}"))) }
}
