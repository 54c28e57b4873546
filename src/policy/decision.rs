//! The release decision: may this department read these fields now?
//! A pure function of (service policy, grant state, department, clock
//! value), Principle 4: no I/O, no clock reads, no randomness. Callers load
//! the grant and count the use; this only says yes (with which fields) or no.

use chrono::{DateTime, Utc};

use super::services::{FieldRef, Service};

/// What the decision needs to know about one grant, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantState {
    /// Id of the service the citizen approved the grant for.
    pub service: String,
    /// Id of the department the grant was given to.
    pub department: String,
    /// The fields the citizen approved.
    pub approved_fields: Vec<FieldRef>,
    /// First instant at which the grant may be used (inclusive).
    pub not_before: DateTime<Utc>,
    /// First instant at which the grant may no longer be used (exclusive).
    pub expires_at: DateTime<Utc>,
    pub max_uses: u32,
    /// Releases already made.
    pub uses: u32,
    pub revoked: bool,
}

/// Why a release is refused. [`Refusal::code`] is the stable API code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The caller is not the department the grant (or the service) belongs to.
    WrongDepartment,
    /// The grant was given for another service.
    WrongService,
    NotYetValid,
    Expired,
    Revoked,
    /// The use limit is reached.
    Exhausted,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::WrongDepartment => "wrong_department",
            Refusal::WrongService => "wrong_service",
            Refusal::NotYetValid => "grant_not_yet_valid",
            Refusal::Expired => "grant_expired",
            Refusal::Revoked => "grant_revoked",
            Refusal::Exhausted => "grant_exhausted",
        }
    }
}

/// Decides whether `department` may release `grant` for `service` at `now`.
///
/// `Ok` holds the fields to release: the service's policy fields that the
/// citizen approved, in the service's order (Principle 3). A field the
/// grant approved but the policy does not name is never returned.
///
/// Checks, in this order, so that another department learns nothing about
/// the grant's state: department, service, revoked, not yet valid, expired,
/// exhausted. The grant is valid from `not_before` inclusive to
/// `expires_at` exclusive. As a second line of defence the policy's own
/// limits also apply: the grant ends at the latest `not_before` plus the
/// service's maximum duration, and at most the service's `max_uses` uses
/// count, whatever the stored grant says.
pub fn decide(
    service: &Service,
    grant: &GrantState,
    department: &str,
    now: DateTime<Utc>,
) -> Result<Vec<FieldRef>, Refusal> {
    if grant.department != department || service.department != department {
        return Err(Refusal::WrongDepartment);
    }
    if grant.service != service.id {
        return Err(Refusal::WrongService);
    }
    if grant.revoked {
        return Err(Refusal::Revoked);
    }
    if now < grant.not_before {
        return Err(Refusal::NotYetValid);
    }
    let policy_end = grant.not_before.checked_add_signed(service.max_grant_duration()).unwrap_or(grant.not_before);
    if now >= grant.expires_at.min(policy_end) {
        return Err(Refusal::Expired);
    }
    if grant.uses >= grant.max_uses.min(service.max_uses) {
        return Err(Refusal::Exhausted);
    }
    Ok(service.fields.iter().filter(|field| grant.approved_fields.contains(field)).cloned().collect())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::policy::{Localized, LoginLevel};

    fn field(text: &str) -> FieldRef {
        FieldRef::parse(text).expect("valid field reference in test")
    }

    fn text(value: &str) -> Localized {
        Localized { de: value.to_owned(), en: value.to_owned() }
    }

    fn parking_service() -> Service {
        Service {
            id: "resident_parking_permit".to_owned(),
            department: "strassenverkehrsamt".to_owned(),
            name: text("Anwohnerparkausweis"),
            purpose: text("purpose"),
            legal_basis: text("§ 45 Abs. 1b StVO"),
            legal_basis_plain: None,
            other_ways: None,
            fields: vec![
                field("residence_certificate.street"),
                field("residence_certificate.house_number"),
                field("vehicle_registration.license_plate"),
            ],
            file: false,
            file_optional: false,
            max_grant_duration_days: 30,
            max_uses: 5,
            default_duration_days: 30,
            default_uses: 1,
            min_login_level: LoginLevel::Substantial,
        }
    }

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().expect("valid date")
    }

    fn grant() -> GrantState {
        GrantState {
            service: "resident_parking_permit".to_owned(),
            department: "strassenverkehrsamt".to_owned(),
            approved_fields: parking_service().fields,
            not_before: start(),
            expires_at: start() + Duration::days(7),
            max_uses: 3,
            uses: 0,
            revoked: false,
        }
    }

    const DEPARTMENT: &str = "strassenverkehrsamt";

    fn now() -> DateTime<Utc> {
        start() + Duration::hours(1)
    }

    #[test]
    fn valid_grant_releases_policy_fields_in_service_order() {
        let mut grant = grant();
        grant.approved_fields.reverse();
        let released = decide(&parking_service(), &grant, DEPARTMENT, now()).expect("allowed");
        assert_eq!(released, parking_service().fields);
    }

    #[test]
    fn release_never_exceeds_the_policy_even_if_the_grant_approved_more() {
        let mut grant = grant();
        grant.approved_fields.push(field("income_statement.net_monthly_income"));
        grant.approved_fields.push(field("birth_certificate.date_of_birth"));
        let released = decide(&parking_service(), &grant, DEPARTMENT, now()).expect("allowed");
        assert_eq!(released, parking_service().fields);
        assert!(!released.contains(&field("income_statement.net_monthly_income")));
        assert!(!released.contains(&field("birth_certificate.date_of_birth")));
    }

    #[test]
    fn release_is_the_intersection_when_the_citizen_approved_less() {
        let mut grant = grant();
        grant.approved_fields =
            vec![field("vehicle_registration.license_plate"), field("residence_certificate.street")];
        let released = decide(&parking_service(), &grant, DEPARTMENT, now()).expect("allowed");
        assert_eq!(released, vec![field("residence_certificate.street"), field("vehicle_registration.license_plate")]);
    }

    #[test]
    fn nothing_approved_releases_nothing() {
        let mut grant = grant();
        grant.approved_fields.clear();
        assert_eq!(decide(&parking_service(), &grant, DEPARTMENT, now()), Ok(vec![]));
    }

    #[test]
    fn another_department_is_refused() {
        assert_eq!(decide(&parking_service(), &grant(), "wohngeldstelle", now()), Err(Refusal::WrongDepartment));
    }

    #[test]
    fn a_department_calling_for_a_service_it_does_not_own_is_refused() {
        let mut service = parking_service();
        service.department = "wohngeldstelle".to_owned();
        assert_eq!(decide(&service, &grant(), DEPARTMENT, now()), Err(Refusal::WrongDepartment));
    }

    #[test]
    fn wrong_department_wins_over_every_other_refusal() {
        // Another department must not learn whether the grant is revoked,
        // expired or used up.
        let mut grant = grant();
        grant.revoked = true;
        grant.uses = grant.max_uses;
        grant.service = "housing_benefit".to_owned();
        let late = grant.expires_at + Duration::days(1);
        assert_eq!(decide(&parking_service(), &grant, "wohngeldstelle", late), Err(Refusal::WrongDepartment));
    }

    #[test]
    fn grant_for_another_service_is_refused() {
        let mut grant = grant();
        grant.service = "daycare_fee_reduction".to_owned();
        assert_eq!(decide(&parking_service(), &grant, DEPARTMENT, now()), Err(Refusal::WrongService));
    }

    #[test]
    fn revoked_grant_is_refused() {
        let mut grant = grant();
        grant.revoked = true;
        assert_eq!(decide(&parking_service(), &grant, DEPARTMENT, now()), Err(Refusal::Revoked));
    }

    #[test]
    fn not_yet_valid_until_exactly_not_before() {
        let grant = grant();
        let service = parking_service();
        let just_before = grant.not_before - Duration::nanoseconds(1);
        assert_eq!(decide(&service, &grant, DEPARTMENT, just_before), Err(Refusal::NotYetValid));
        assert_eq!(
            decide(&service, &grant, DEPARTMENT, grant.not_before - Duration::days(3)),
            Err(Refusal::NotYetValid)
        );
        assert!(decide(&service, &grant, DEPARTMENT, grant.not_before).is_ok(), "valid at exactly not_before");
    }

    #[test]
    fn expired_from_exactly_expires_at() {
        let grant = grant();
        let service = parking_service();
        let just_before = grant.expires_at - Duration::nanoseconds(1);
        assert!(decide(&service, &grant, DEPARTMENT, just_before).is_ok(), "valid just before expiry");
        assert_eq!(decide(&service, &grant, DEPARTMENT, grant.expires_at), Err(Refusal::Expired));
        assert_eq!(decide(&service, &grant, DEPARTMENT, grant.expires_at + Duration::days(400)), Err(Refusal::Expired));
    }

    #[test]
    fn expiry_is_capped_by_the_service_maximum_duration() {
        let mut grant = grant();
        grant.expires_at = grant.not_before + Duration::days(365);
        let service = parking_service(); // at most 30 days
        let policy_end = grant.not_before + Duration::days(30);
        assert!(decide(&service, &grant, DEPARTMENT, policy_end - Duration::seconds(1)).is_ok());
        assert_eq!(decide(&service, &grant, DEPARTMENT, policy_end), Err(Refusal::Expired));
    }

    #[test]
    fn exhausted_at_exactly_max_uses() {
        let mut grant = grant();
        let service = parking_service();
        grant.uses = grant.max_uses - 1;
        assert!(decide(&service, &grant, DEPARTMENT, now()).is_ok(), "last use allowed");
        grant.uses = grant.max_uses;
        assert_eq!(decide(&service, &grant, DEPARTMENT, now()), Err(Refusal::Exhausted));
        grant.uses = u32::MAX;
        assert_eq!(decide(&service, &grant, DEPARTMENT, now()), Err(Refusal::Exhausted));
    }

    #[test]
    fn grant_with_zero_uses_allowed_is_exhausted() {
        let mut grant = grant();
        grant.max_uses = 0;
        assert_eq!(decide(&parking_service(), &grant, DEPARTMENT, now()), Err(Refusal::Exhausted));
    }

    #[test]
    fn uses_are_capped_by_the_service_maximum() {
        let mut grant = grant();
        grant.max_uses = 1000;
        let service = parking_service(); // at most 5 uses
        grant.uses = 4;
        assert!(decide(&service, &grant, DEPARTMENT, now()).is_ok());
        grant.uses = 5;
        assert_eq!(decide(&service, &grant, DEPARTMENT, now()), Err(Refusal::Exhausted));
    }

    #[test]
    fn refusal_order_after_department() {
        let service = parking_service();
        let late = grant().expires_at;
        let mut grant = grant();
        grant.service = "housing_benefit".to_owned();
        grant.revoked = true;
        grant.uses = grant.max_uses;
        assert_eq!(decide(&service, &grant, DEPARTMENT, late), Err(Refusal::WrongService));
        grant.service = service.id.clone();
        assert_eq!(decide(&service, &grant, DEPARTMENT, late), Err(Refusal::Revoked));
        grant.revoked = false;
        assert_eq!(
            decide(&service, &grant, DEPARTMENT, grant.not_before - Duration::seconds(1)),
            Err(Refusal::NotYetValid)
        );
        assert_eq!(decide(&service, &grant, DEPARTMENT, late), Err(Refusal::Expired));
        assert_eq!(decide(&service, &grant, DEPARTMENT, now()), Err(Refusal::Exhausted));
    }

    #[test]
    fn refusal_codes_are_stable() {
        let codes: Vec<&str> = [
            Refusal::WrongDepartment,
            Refusal::WrongService,
            Refusal::NotYetValid,
            Refusal::Expired,
            Refusal::Revoked,
            Refusal::Exhausted,
        ]
        .iter()
        .map(Refusal::code)
        .collect();
        assert_eq!(
            codes,
            [
                "wrong_department",
                "wrong_service",
                "grant_not_yet_valid",
                "grant_expired",
                "grant_revoked",
                "grant_exhausted"
            ]
        );
    }
}
