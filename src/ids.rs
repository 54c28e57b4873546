//! Identifier newtypes. An id can only be built valid: either freshly random
//! or parsed from 32 lowercase hex characters (128 bits). Parsing untrusted
//! path segments through these types rejects anything else before it reaches
//! the store.

use std::fmt;
use std::str::FromStr;

use ring::rand::SecureRandom;

/// Error for a string that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid identifier")]
pub struct InvalidId;

macro_rules! random_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id (128 bits from the injected RNG).
            pub fn generate(rng: &dyn SecureRandom) -> Self {
                let mut bytes = [0u8; 16];
                // ring's SystemRandom only fails when the OS RNG is unavailable,
                // in which case continuing would be unsafe.
                rng.fill(&mut bytes).expect("operating system random source failed");
                Self(hex::encode(bytes))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(text: &str) -> Result<Self, InvalidId> {
                if text.len() == 32 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(InvalidId)
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

random_id!(
    /// Internal id of a citizen account (never the eID subject).
    CitizenId
);
random_id!(
    /// One piece of evidence (typed fields plus an optional file).
    EvidenceId
);
random_id!(
    /// One uploaded file; its chunks are sealed with a key derived for this id.
    FileId
);

random_id!(
    /// An access request a department opened; its approve URL carries it.
    RequestId
);
random_id!(
    /// A grant: one citizen's approval of one request.
    GrantId
);

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let rng = SystemRandom::new();
        let a = CitizenId::generate(&rng);
        let b = CitizenId::generate(&rng);
        assert_ne!(a, b);
        assert_eq!(a.as_str().parse::<CitizenId>(), Ok(a.clone()));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in
            ["", "abc", "../../etc/passwd", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdef0"]
        {
            assert_eq!(bad.parse::<EvidenceId>(), Err(InvalidId), "{bad:?}");
        }
    }
}
