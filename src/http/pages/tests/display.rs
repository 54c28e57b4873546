//! Display settings (`http::display`) on every page.

use super::*;

/// The `<html>` start tag of a rendered page.
fn html_tag(html: &str) -> &str {
    start_tags(html, "html")[0]
}

/// The `<a>` tags of the display switch, in order.
fn display_links(html: &str) -> Vec<&str> {
    let start = html.find("<nav class=\"display-switch\"").expect("has a display switch");
    let end = start + html[start..].find("</nav>").expect("nav is closed");
    start_tags(&html[start..end], "a")
}

#[test]
fn display_mode_is_a_class_on_html_on_every_page() {
    let modes = [
        (Display::default(), None),
        (
            Display { text: TextSize::Large, contrast: Contrast::Normal, contrast_normal_chosen: false },
            Some("text-large"),
        ),
        (
            Display { text: TextSize::Normal, contrast: Contrast::High, contrast_normal_chosen: false },
            Some("contrast-high"),
        ),
        (
            Display { text: TextSize::Large, contrast: Contrast::High, contrast_normal_chosen: false },
            Some("text-large contrast-high"),
        ),
    ];
    for mut ctx in all_contexts() {
        for (display, class) in modes {
            ctx.display = display;
            let pages = all_pages(&ctx).into_iter().chain([
                ("dpo-stats", dpo_stats_page(&ctx, &super::dpo::stats_view(Vec::new())).into_string()),
                ("dpo-error", dpo_error_page(&ctx, 401, "Bitte anmelden", "Melden Sie sich an.", false).into_string()),
            ]);
            for (page, html) in pages {
                let tag = html_tag(&html);
                assert_eq!(attribute(tag, "class"), class, "{page}: {tag}");
                assert_eq!(attribute(tag, "lang"), Some(lang_code(ctx.lang)), "{page}: {tag}");
            }
        }
    }
}

#[test]
fn display_switch_is_on_citizen_and_staff_pages_with_the_current_choice_marked() {
    let mut ctx = context(Lang::De, false, false);
    ctx.current_path = "/dpo/stats?department=wohngeld&lang=de".to_owned();
    ctx.display = Display { text: TextSize::Large, contrast: Contrast::Normal, contrast_normal_chosen: false };
    for (page, html) in [
        ("start", start_page(&ctx, &[]).into_string()),
        ("dpo-stats", dpo_stats_page(&ctx, &super::dpo::stats_view(Vec::new())).into_string()),
    ] {
        assert!(html.contains("<nav class=\"display-switch\" aria-label=\"Darstellung\">"), "{page}");
        let links = display_links(&html);
        let hrefs: Vec<_> = links.iter().map(|tag| attribute(tag, "href").expect("href")).collect();
        assert_eq!(
            hrefs,
            [
                "/dpo/stats?department=wohngeld&amp;lang=de&amp;text=normal",
                "/dpo/stats?department=wohngeld&amp;lang=de&amp;text=large",
                "/dpo/stats?department=wohngeld&amp;lang=de&amp;contrast=normal",
                "/dpo/stats?department=wohngeld&amp;lang=de&amp;contrast=high",
            ],
            "{page}"
        );
        let current: Vec<_> = links.iter().map(|tag| attribute(tag, "aria-current")).collect();
        assert_eq!(current, [None, Some("true"), Some("true"), None], "{page}");
        for text in ["Normale Schrift</a>", "Große Schrift</a>", "Normaler Kontrast</a>", "Hoher Kontrast</a>"] {
            assert!(html.contains(text), "{page} lacks {text}");
        }
    }
    ctx.lang = Lang::En;
    ctx.display = Display { text: TextSize::Normal, contrast: Contrast::High, contrast_normal_chosen: false };
    let html = evidence_list_page(&ctx, &[], None).into_string();
    assert!(html.contains("<nav class=\"display-switch\" aria-label=\"Display\">"));
    let current: Vec<_> = display_links(&html).iter().map(|tag| attribute(tag, "aria-current")).collect();
    assert_eq!(current, [Some("true"), None, None, Some("true")]);
    for text in ["Normal text</a>", "Large text</a>", "Normal contrast</a>", "High contrast</a>"] {
        assert!(html.contains(text), "lacks {text}");
    }
}

#[test]
fn switch_links_replace_their_own_parameter_keep_the_rest_and_stay_on_the_site() {
    assert_eq!(switch_href("/evidence?text=large&type=a%20b", "text", "normal"), "/evidence?type=a+b&text=normal");
    assert_eq!(switch_href("/?contrast=high&lang=en", "lang", "de"), "/?contrast=high&lang=de");
    assert_eq!(switch_href("/grants#top", "contrast", "high"), "/grants?contrast=high");
    for hostile in ["//evil.example/x", "https://evil.example/", "javascript:alert(1)", ""] {
        assert_eq!(switch_href(hostile, "text", "large"), "/?text=large", "{hostile}");
    }
}

#[test]
fn stylesheet_has_the_display_modes_and_the_browser_preferences() {
    for rule in [
        ":root.text-large",
        ":root.contrast-high",
        "@media (prefers-contrast: more)",
        "@media (prefers-color-scheme: dark)",
        ":root:not(.contrast-high)",
        "@media (forced-colors: active)",
    ] {
        assert!(STYLESHEET.contains(rule), "style.css lacks {rule}");
    }
}

/// Every rule of the served stylesheet is closed where it ends: a block
/// left open (a merge that lost a `}`) swallows every rule after it, which
/// only a browser would otherwise notice.
#[test]
fn stylesheet_blocks_are_balanced() {
    let mut depth = 0usize;
    let mut in_comment = false;
    let bytes = STYLESHEET.as_bytes();
    let mut line = 1;
    let mut index = 0;
    while index < bytes.len() {
        let rest = &bytes[index..];
        if in_comment {
            if rest.starts_with(b"*/") {
                in_comment = false;
                index += 1;
            }
        } else if rest.starts_with(b"/*") {
            in_comment = true;
            index += 1;
        } else {
            match bytes[index] {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.checked_sub(1).unwrap_or_else(|| panic!("a `}}` without its `{{` on line {line}"))
                }
                b'\n' => line += 1,
                _ => {}
            }
        }
        if bytes[index] == b'\n' && in_comment {
            line += 1;
        }
        index += 1;
    }
    assert!(!in_comment, "a comment is never closed");
    assert_eq!(depth, 0, "{depth} block(s) never closed");
}
