//! The one character rule for text that comes from outside: evidence values,
//! uploaded file names, a department's case reference, staff query filters,
//! login hints and return paths. One function, so no way in lets through
//! what another refuses.
//!
//! Refused are characters that make a text display differently from what it
//! contains or that hide part of it: control characters (tab and newline
//! included: every such text is a single line), the line and paragraph
//! separators, and every format character (Unicode general category Cf):
//! the bidirectional embeddings, overrides, isolates and marks that can show
//! `AZ 12<U+202E>3-NIVAR` as `AZ 12RAVIN-3`, zero-width spaces and joiners,
//! the soft hyphen, the byte order mark, word joiner and invisible operators,
//! tag characters, interlinear annotation marks and the like.
//!
//! Zero-width joiners are format characters too, so emoji sequences joined by
//! them (a family, a rainbow flag) are refused; single emoji, skin tones and
//! variation selectors are not.

/// Whether `character` is never accepted in a single-line text from outside.
pub fn is_refused_char(character: char) -> bool {
    character.is_control() || matches!(character, '\u{2028}' | '\u{2029}') || is_format_char(character)
}

/// Whether `text` contains a character [`is_refused_char`] refuses.
pub fn has_refused_char(text: &str) -> bool {
    text.chars().any(is_refused_char)
}

/// Unicode general category Cf (format), as of Unicode 16. The unassigned
/// U+2065 (amid the invisible operators and isolates) and the unassigned
/// rest of the tags block U+E0000..U+E007F are refused with them.
fn is_format_char(character: char) -> bool {
    matches!(
        character,
        '\u{00AD}'                        // soft hyphen
            | '\u{0600}'..='\u{0605}'     // Arabic number signs
            | '\u{061C}'                  // Arabic letter mark
            | '\u{06DD}'                  // Arabic end of ayah
            | '\u{070F}'                  // Syriac abbreviation mark
            | '\u{0890}'..='\u{0891}'     // Arabic pound and piastre marks above
            | '\u{08E2}'                  // Arabic disputed end of ayah
            | '\u{180E}'                  // Mongolian vowel separator
            | '\u{200B}'..='\u{200F}'     // zero-width space, non-joiner, joiner; LRM, RLM
            | '\u{202A}'..='\u{202E}'     // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{206F}'     // word joiner, invisible operators, isolates, deprecated
            | '\u{FEFF}'                  // zero-width no-break space (byte order mark)
            | '\u{FFF9}'..='\u{FFFB}'     // interlinear annotation
            | '\u{110BD}'                 // Kaithi number sign
            | '\u{110CD}'                 // Kaithi number sign above
            | '\u{13430}'..='\u{1343F}'   // Egyptian hieroglyph format controls
            | '\u{1BCA0}'..='\u{1BCA3}'   // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}'   // musical symbol format controls
            | '\u{E0000}'..='\u{E007F}'   // tags (language tag, tag characters; the rest unassigned)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character the issue names, one by one, alone and inside text.
    #[test]
    fn invisible_format_characters_are_refused() {
        let mut listed: Vec<char> = Vec::new();
        for range in [
            '\u{200B}'..='\u{200F}',
            '\u{202A}'..='\u{202E}',
            '\u{2060}'..='\u{2064}',
            '\u{2066}'..='\u{2069}',
            '\u{E0000}'..='\u{E007F}',
            '\u{FFF9}'..='\u{FFFB}',
        ] {
            listed.extend(range);
        }
        listed.extend(['\u{FEFF}', '\u{00AD}', '\u{061C}', '\u{180E}']);
        for character in listed {
            assert!(is_refused_char(character), "U+{:04X}", u32::from(character));
            assert!(has_refused_char(&format!("AZ 12{character}3")), "U+{:04X} inside text", u32::from(character));
        }
        assert!(has_refused_char("AZ 12\u{202E}3-NIVAR\u{202C}"));
    }

    #[test]
    fn control_characters_and_line_separators_are_refused() {
        for character in ['\0', '\t', '\n', '\r', '\u{1B}', '\u{7F}', '\u{85}', '\u{9F}', '\u{2028}', '\u{2029}'] {
            assert!(is_refused_char(character), "U+{:04X}", u32::from(character));
        }
    }

    #[test]
    fn ordinary_text_is_accepted() {
        for text in [
            "Müller-Lüdenscheidt, Straße 12a",
            "ÄÖÜ äöü ß ẞ",
            "1.234,50 €",
            "AZ 32-2026-0815 / B",
            "Lohnabrechnung März (Kopie).pdf",
            "«Anführungszeichen» „deutsch“ ‚einfach‘",
            "Dvořák, Łódź, Ørsted, Ñandú",
            "Καλημέρα, Здравствуйте, שלום, مرحبا, 你好",
            "😀 👍🏽 ❤️ 🇩🇪",
            "non\u{00A0}breaking and thin\u{2009}spaces",
            "Combining: e\u{0301}",
        ] {
            assert!(!has_refused_char(text), "{text}: {:?}", text.chars().find(|c| is_refused_char(*c)));
        }
    }

    /// The list above is the whole of category Cf: every other character in
    /// the planes it touches is let through (a spot check of the neighbours).
    #[test]
    fn neighbours_of_format_characters_are_accepted() {
        for character in [
            '\u{00AC}',
            '\u{00AE}',
            '\u{200A}',
            '\u{2010}',
            '\u{2027}',
            '\u{202F}',
            '\u{205F}',
            '\u{FEFE}',
            '\u{FFFC}',
            '\u{E0080}',
            '\u{E0100}',
        ] {
            assert!(!is_refused_char(character), "U+{:04X}", u32::from(character));
        }
    }
}
