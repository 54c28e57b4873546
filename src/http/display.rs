//! Display settings without JavaScript (BITV 2.0 / WCAG 2.1: 1.4.3, 1.4.4,
//! 1.4.6, 1.4.11): larger text and high contrast, each switched like the
//! language. A link to the current page with `?text=large` or
//! `?contrast=high` renders the page in that mode and remembers it in a
//! long-lived cookie (`text`, `contrast`, the attributes of the `lang`
//! cookie); later pages read the cookie. Unknown values are ignored, never
//! an error. The mode reaches the page as classes on `<html>` (see
//! `style.css`); a browser's own `prefers-contrast` and
//! `prefers-color-scheme` are handled there alone.

use axum::http::HeaderMap;

use super::AppState;
use super::session;

/// How long the choice is remembered: a year, like the language.
const COOKIE_MAX_AGE: i64 = 365 * 24 * 3600;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextSize {
    #[default]
    Normal,
    Large,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Contrast {
    #[default]
    Normal,
    High,
}

/// A two-way display setting: its query parameter and cookie name, and the
/// values it knows.
pub trait Setting: Copy + Eq + Sized + 'static {
    /// The query parameter and the cookie.
    const NAME: &'static str;
    /// Every value, in the order the switch shows them.
    const ALL: [Self; 2];
    /// The value in the query and the cookie.
    fn code(self) -> &'static str;

    fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|value| value.code() == code)
    }
}

impl Setting for TextSize {
    const NAME: &'static str = "text";
    const ALL: [Self; 2] = [Self::Normal, Self::Large];

    fn code(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Large => "large",
        }
    }
}

impl Setting for Contrast {
    const NAME: &'static str = "contrast";
    const ALL: [Self; 2] = [Self::Normal, Self::High];

    fn code(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// The display mode of one page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Display {
    pub text: TextSize,
    pub contrast: Contrast,
    /// Normal contrast was chosen here (query or cookie), not just the
    /// default: it then beats the browser's `prefers-contrast: more`.
    pub contrast_normal_chosen: bool,
}

impl Display {
    /// The mode for a request to `current_path` (path and query): a known
    /// value in the query wins, then the cookie, then normal.
    pub fn of_request(current_path: &str, headers: &HeaderMap) -> Self {
        let contrast = chosen_explicitly::<Contrast>(current_path, headers);
        Self {
            text: chosen(current_path, headers),
            contrast: contrast.unwrap_or_default(),
            contrast_normal_chosen: contrast == Some(Contrast::Normal),
        }
    }

    /// The classes for `<html>`, or None in the normal mode.
    pub fn html_class(self) -> Option<String> {
        let classes: Vec<&str> = [
            (self.text == TextSize::Large).then_some("text-large"),
            (self.contrast == Contrast::High).then_some("contrast-high"),
            self.contrast_normal_chosen.then_some("contrast-normal"),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!classes.is_empty()).then(|| classes.join(" "))
    }
}

fn chosen<S: Setting + Default>(current_path: &str, headers: &HeaderMap) -> S {
    chosen_explicitly(current_path, headers).unwrap_or_default()
}

/// The value the query or else the cookie names, if any.
fn chosen_explicitly<S: Setting>(current_path: &str, headers: &HeaderMap) -> Option<S> {
    switched::<S>(current_path).or_else(|| session::cookie_value(headers, S::NAME).and_then(S::parse))
}

/// The known value the query of `current_path` switches to, if any.
fn switched<S: Setting>(current_path: &str) -> Option<S> {
    let query = current_path.split('#').next()?.split_once('?')?.1;
    // The last one wins, as with a switch link appended to a query.
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == S::NAME)
        .filter_map(|(_, value)| S::parse(&value))
        .last()
}

/// Remember the settings the query of `current_path` switched (known values
/// only) in their cookies on `response_headers`.
pub fn remember(app: &AppState, current_path: &str, response_headers: &mut HeaderMap) {
    if let Some(text) = switched::<TextSize>(current_path) {
        session::set_cookie_header(
            response_headers,
            app.cookies.set(TextSize::NAME, text.code(), Some(COOKIE_MAX_AGE)),
        );
    }
    if let Some(contrast) = switched::<Contrast>(current_path) {
        session::set_cookie_header(
            response_headers,
            app.cookies.set(Contrast::NAME, contrast.code(), Some(COOKIE_MAX_AGE)),
        );
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    fn cookies(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).expect("cookie header"));
        headers
    }

    #[test]
    fn query_wins_over_cookie_and_unknown_values_are_ignored() {
        let none = HeaderMap::new();
        assert_eq!(Display::of_request("/", &none), Display::default());
        assert_eq!(Display::of_request("/?text=large", &none).text, TextSize::Large);
        assert_eq!(Display::of_request("/?contrast=high", &none).contrast, Contrast::High);
        let both = cookies("lang=en; text=large; contrast=high");
        assert_eq!(
            Display::of_request("/evidence", &both),
            Display { text: TextSize::Large, contrast: Contrast::High, contrast_normal_chosen: false }
        );
        assert_eq!(Display::of_request("/evidence?text=normal", &both).text, TextSize::Normal);
        // Unknown values fall back to the cookie, then to normal.
        assert_eq!(Display::of_request("/?text=huge&contrast=%3Cx%3E", &both), Display::of_request("/", &both));
        assert_eq!(Display::of_request("/", &cookies("text=huge; contrast=")), Display::default());
        // The last known value wins.
        assert_eq!(Display::of_request("/?text=large&text=normal", &none).text, TextSize::Normal);
        // A fragment is not part of the query.
        assert_eq!(Display::of_request("/#text=large", &none).text, TextSize::Normal);
    }

    #[test]
    fn classes_name_only_what_differs_from_normal() {
        assert_eq!(Display::default().html_class(), None);
        assert_eq!(Display { text: TextSize::Large, ..Display::default() }.html_class().as_deref(), Some("text-large"));
        assert_eq!(
            Display { contrast: Contrast::High, ..Display::default() }.html_class().as_deref(),
            Some("contrast-high")
        );
        assert_eq!(
            Display { text: TextSize::Large, contrast: Contrast::High, contrast_normal_chosen: false }
                .html_class()
                .as_deref(),
            Some("text-large contrast-high")
        );
    }

    /// Normal contrast chosen here (by the switch or its cookie) is marked,
    /// so that the stylesheet lets it beat the browser's `prefers-contrast:
    /// more`; the default (nothing chosen) is not, so the browser's wish holds.
    #[test]
    fn normal_contrast_chosen_here_beats_the_browsers_preference() {
        let none = HeaderMap::new();
        let chosen = Display::of_request("/?contrast=normal", &none);
        assert_eq!(chosen.contrast, Contrast::Normal);
        assert_eq!(chosen.html_class().as_deref(), Some("contrast-normal"));
        let remembered = Display::of_request("/evidence", &cookies("contrast=normal"));
        assert_eq!(remembered.html_class().as_deref(), Some("contrast-normal"));
        assert_eq!(Display::of_request("/evidence", &none).html_class(), None, "nothing chosen: the browser decides");
        assert_eq!(
            Display::of_request("/?contrast=high", &cookies("contrast=normal")).html_class().as_deref(),
            Some("contrast-high")
        );
        for rule in [":root:not(.contrast-normal) {", ":root:not(.contrast-high):not(.contrast-normal) {"] {
            assert!(crate::http::pages::STYLESHEET.contains(rule), "style.css lacks {rule}");
        }
        assert!(
            !crate::http::pages::STYLESHEET.contains("@media (prefers-contrast: more) {\n  :root {"),
            "the browser's preference must not override a choice made here"
        );
    }
}
