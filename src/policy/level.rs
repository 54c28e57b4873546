//! Login assurance levels (eIDAS "level of assurance") and the mapping from
//! the `acr` values identity providers send. Lives here until `identity`
//! grows its own; policies need it to state a minimum level per type.

use serde::{Deserialize, Serialize};

/// eIDAS level of assurance, ordered `Low < Substantial < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginLevel {
    Low,
    Substantial,
    High,
}

const EIDAS_LOW: &str = "http://eidas.europa.eu/LoA/low";
const EIDAS_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
const EIDAS_HIGH: &str = "http://eidas.europa.eu/LoA/high";

impl LoginLevel {
    /// Maps an `acr` claim to a level. Accepted, exactly (case-sensitive,
    /// no trimming): the eIDAS LoA URIs, the plain words `low`,
    /// `substantial`, `high`, and STORK QAA levels given as `1`..`4` (the
    /// value of `http://www.stork.gov.eu/1.0/storkQAALevel`) or as
    /// `STORK-QAA-Level-1`..`4`. STORK 1 and 2 are low, 3 substantial,
    /// 4 high. Anything else is `None`: an unknown level must never be
    /// guessed upwards.
    pub fn from_acr(acr: &str) -> Option<LoginLevel> {
        match acr {
            EIDAS_LOW | "low" => Some(LoginLevel::Low),
            EIDAS_SUBSTANTIAL | "substantial" => Some(LoginLevel::Substantial),
            EIDAS_HIGH | "high" => Some(LoginLevel::High),
            _ => {
                let qaa = acr.strip_prefix("STORK-QAA-Level-").unwrap_or(acr);
                match qaa {
                    "1" | "2" => Some(LoginLevel::Low),
                    "3" => Some(LoginLevel::Substantial),
                    "4" => Some(LoginLevel::High),
                    _ => None,
                }
            }
        }
    }

    /// The eIDAS LoA URI, the value to request as `acr_values`.
    pub fn as_acr(self) -> &'static str {
        match self {
            LoginLevel::Low => EIDAS_LOW,
            LoginLevel::Substantial => EIDAS_SUBSTANTIAL,
            LoginLevel::High => EIDAS_HIGH,
        }
    }

    /// Stable number for storage: low 1, substantial 2, high 3. Zero is
    /// deliberately unused so that a defaulted column never reads as a level.
    pub fn ordinal(self) -> i32 {
        match self {
            LoginLevel::Low => 1,
            LoginLevel::Substantial => 2,
            LoginLevel::High => 3,
        }
    }

    /// Inverse of [`LoginLevel::ordinal`]; other numbers are `None`.
    pub fn from_ordinal(ordinal: i32) -> Option<LoginLevel> {
        match ordinal {
            1 => Some(LoginLevel::Low),
            2 => Some(LoginLevel::Substantial),
            3 => Some(LoginLevel::High),
            _ => None,
        }
    }

    /// Lowercase name as used in policy files: `low`, `substantial`, `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginLevel::Low => "low",
            LoginLevel::Substantial => "substantial",
            LoginLevel::High => "high",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [LoginLevel; 3] = [LoginLevel::Low, LoginLevel::Substantial, LoginLevel::High];

    #[test]
    fn eidas_uris_map_to_levels() {
        assert_eq!(LoginLevel::from_acr("http://eidas.europa.eu/LoA/low"), Some(LoginLevel::Low));
        assert_eq!(LoginLevel::from_acr("http://eidas.europa.eu/LoA/substantial"), Some(LoginLevel::Substantial));
        assert_eq!(LoginLevel::from_acr("http://eidas.europa.eu/LoA/high"), Some(LoginLevel::High));
    }

    #[test]
    fn plain_words_map_to_levels() {
        assert_eq!(LoginLevel::from_acr("low"), Some(LoginLevel::Low));
        assert_eq!(LoginLevel::from_acr("substantial"), Some(LoginLevel::Substantial));
        assert_eq!(LoginLevel::from_acr("high"), Some(LoginLevel::High));
    }

    #[test]
    fn stork_qaa_levels_map_to_levels() {
        for (acr, level) in [
            ("1", LoginLevel::Low),
            ("2", LoginLevel::Low),
            ("3", LoginLevel::Substantial),
            ("4", LoginLevel::High),
            ("STORK-QAA-Level-1", LoginLevel::Low),
            ("STORK-QAA-Level-2", LoginLevel::Low),
            ("STORK-QAA-Level-3", LoginLevel::Substantial),
            ("STORK-QAA-Level-4", LoginLevel::High),
        ] {
            assert_eq!(LoginLevel::from_acr(acr), Some(level), "{acr}");
        }
    }

    #[test]
    fn unknown_acr_values_are_none() {
        for acr in [
            "",
            " low",
            "LOW",
            "High",
            "medium",
            "0",
            "5",
            "STORK-QAA-Level-0",
            "STORK-QAA-Level-5",
            "STORK-QAA-Level-",
            "stork-qaa-level-4",
            "http://eidas.europa.eu/LoA/HIGH",
            "http://eidas.europa.eu/LoA/high/",
            "https://eidas.europa.eu/LoA/high",
            "http://eidas.europa.eu/LoA/NotNotified/high",
            "urn:example:high",
        ] {
            assert_eq!(LoginLevel::from_acr(acr), None, "{acr:?}");
        }
    }

    #[test]
    fn as_acr_round_trips() {
        for level in ALL {
            assert_eq!(LoginLevel::from_acr(level.as_acr()), Some(level));
            assert!(level.as_acr().starts_with("http://eidas.europa.eu/LoA/"));
        }
    }

    #[test]
    fn ordinal_round_trips_and_keeps_order() {
        for level in ALL {
            assert_eq!(LoginLevel::from_ordinal(level.ordinal()), Some(level));
        }
        assert!(LoginLevel::Low.ordinal() < LoginLevel::Substantial.ordinal());
        assert!(LoginLevel::Substantial.ordinal() < LoginLevel::High.ordinal());
        for bad in [0, 4, -1, i32::MAX, i32::MIN] {
            assert_eq!(LoginLevel::from_ordinal(bad), None);
        }
    }

    #[test]
    fn levels_are_ordered() {
        assert!(LoginLevel::Low < LoginLevel::Substantial);
        assert!(LoginLevel::Substantial < LoginLevel::High);
        assert_eq!(ALL.iter().max(), Some(&LoginLevel::High));
    }

    #[test]
    fn serde_uses_lowercase_names() {
        #[derive(Deserialize, Serialize)]
        struct Wrapper {
            level: LoginLevel,
        }
        for level in ALL {
            let text = toml::to_string(&Wrapper { level }).expect("serialise");
            assert_eq!(text.trim(), format!("level = \"{}\"", level.as_str()));
            let back: Wrapper = toml::from_str(&text).expect("deserialise");
            assert_eq!(back.level, level);
        }
        assert!(toml::from_str::<Wrapper>("level = \"High\"").is_err());
    }
}
