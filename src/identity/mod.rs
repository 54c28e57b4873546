//! Citizen and staff identity: the OpenID Connect relying party (one per
//! configured issuer) and the built-in test provider for `tresor serve --dev`.
//! Nothing here stores identity attributes; a login yields subject + level.

pub mod department;
pub mod dev_idp;
pub mod dev_pki;
pub mod oidc;
pub mod registry;
pub mod staff;

pub use dev_idp::{DevIdp, DevIdpError, Persona};
pub use oidc::{IssuerSettings, LoginError, LoginStart, LogoutClaims, PendingAuth, RelyingParty, VerifiedLogin};

#[cfg(test)]
mod tests;
