//! Stand-in for the policy module's login level (replaced at merge).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginLevel {
    Low,
    Substantial,
    High,
}

impl LoginLevel {
    pub fn from_acr(acr: &str) -> Option<LoginLevel> {
        match acr {
            "http://eidas.europa.eu/LoA/low" | "low" => Some(LoginLevel::Low),
            "http://eidas.europa.eu/LoA/substantial" | "substantial" => {
                Some(LoginLevel::Substantial)
            }
            "http://eidas.europa.eu/LoA/high" | "high" => Some(LoginLevel::High),
            _ => match acr.strip_prefix("http://www.stork.gov.eu/1.0/citizenQAALevel/") {
                Some("1") | Some("2") => Some(LoginLevel::Low),
                Some("3") => Some(LoginLevel::Substantial),
                Some("4") => Some(LoginLevel::High),
                _ => None,
            },
        }
    }

    pub fn as_acr(&self) -> &'static str {
        match self {
            LoginLevel::Low => "http://eidas.europa.eu/LoA/low",
            LoginLevel::Substantial => "http://eidas.europa.eu/LoA/substantial",
            LoginLevel::High => "http://eidas.europa.eu/LoA/high",
        }
    }

    pub fn ordinal(&self) -> i32 {
        match self {
            LoginLevel::Low => 1,
            LoginLevel::Substantial => 2,
            LoginLevel::High => 3,
        }
    }

    pub fn from_ordinal(ordinal: i32) -> Option<Self> {
        match ordinal {
            1 => Some(LoginLevel::Low),
            2 => Some(LoginLevel::Substantial),
            3 => Some(LoginLevel::High),
            _ => None,
        }
    }
}
