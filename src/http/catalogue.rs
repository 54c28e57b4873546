//! The service catalogue, public: every service a department may request
//! data for, with its purpose, legal basis, the exact fields and files it may
//! receive, the longest duration and most uses a citizen can allow, and the
//! login level it needs, in German and English; generated from `policies/`
//! (`GET /services` as a page, `GET /api/v1/services` as JSON), so that
//! anyone can see what each office may ask for before being asked.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::pages;
use super::web::Page;
use crate::policy::{FieldRef, Localized, LoginLevel, Policies, Service};

/// The catalogue changes only with the policies (a restart): caches may keep it a while.
const CACHE_CONTROL: &str = "public, max-age=300";

/// A text in both languages.
#[derive(Debug, Serialize, ToSchema)]
pub struct Texts {
    pub de: String,
    pub en: String,
}

impl From<&Localized> for Texts {
    fn from(text: &Localized) -> Self {
        Self { de: text.de.clone(), en: text.en.clone() }
    }
}

/// `GET /api/v1/services`
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceCatalogue {
    pub services: Vec<CatalogueService>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueService {
    pub id: String,
    pub name: Texts,
    pub department: CatalogueDepartment,
    pub purpose: Texts,
    pub legal_basis: Texts,
    /// The legal basis in plain words, where the policy gives them.
    pub legal_basis_plain: Option<Texts>,
    /// Other ways to give the office what it needs (in person, by post).
    pub other_ways: Option<Texts>,
    /// Every field the office may receive, as `type.field`, with its words.
    pub fields: Vec<CatalogueField>,
    /// The documents' files: `none`, `required` (with the fields) or
    /// `optional` (the citizen may leave them out).
    pub files: FilesRule,
    pub max_grant_duration_days: u32,
    pub max_uses: u32,
    /// `low`, `substantial` or `high` (eIDAS levels of assurance).
    #[schema(value_type = String)]
    pub min_login_level: LoginLevel,
}

/// Whether the office receives the documents' files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FilesRule {
    None,
    Required,
    Optional,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueDepartment {
    pub id: String,
    pub name: Texts,
    pub contact: Option<Texts>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueField {
    pub field: String,
    pub evidence_type: String,
    pub evidence_type_name: Texts,
    pub label: Texts,
}

/// What a service's files entry says: none, with the fields, or at the
/// citizen's choice.
pub fn files_rule(service: &Service) -> FilesRule {
    match (service.file, service.file_optional) {
        (false, _) => FilesRule::None,
        (true, false) => FilesRule::Required,
        (true, true) => FilesRule::Optional,
    }
}

/// The catalogue from the policies in force, services in policy order.
pub fn catalogue(policies: &Policies) -> ServiceCatalogue {
    let both = |de: String, en: String| Texts { de, en };
    let services = policies
        .services
        .iter()
        .map(|service| {
            let department = policies.departments.get(&service.department);
            CatalogueService {
                id: service.id.clone(),
                name: (&service.name).into(),
                department: CatalogueDepartment {
                    id: service.department.clone(),
                    name: department.map_or_else(
                        || both(service.department.clone(), service.department.clone()),
                        |department| (&department.name).into(),
                    ),
                    contact: department.and_then(|department| department.contact.as_ref()).map(Texts::from),
                },
                purpose: (&service.purpose).into(),
                legal_basis: (&service.legal_basis).into(),
                legal_basis_plain: service.legal_basis_plain.as_ref().map(Texts::from),
                other_ways: service.other_ways.as_ref().map(Texts::from),
                fields: service.fields.iter().map(|field| catalogue_field(policies, field)).collect(),
                files: files_rule(service),
                max_grant_duration_days: service.max_grant_duration_days,
                max_uses: service.max_uses,
                min_login_level: service.min_login_level,
            }
        })
        .collect();
    ServiceCatalogue { services }
}

fn catalogue_field(policies: &Policies, field: &FieldRef) -> CatalogueField {
    let name = field.to_string();
    let language = |lang| (policies.evidence_type_name(field.evidence_type(), lang), policies.field_label(&name, lang));
    let ((type_de, label_de), (type_en, label_en)) =
        (language(crate::policy::Lang::De), language(crate::policy::Lang::En));
    CatalogueField {
        evidence_type: field.evidence_type().to_owned(),
        evidence_type_name: Texts { de: type_de, en: type_en },
        label: Texts { de: label_de, en: label_en },
        field: name,
    }
}

/// `GET /api/v1/services`: the catalogue as JSON.
#[utoipa::path(get, path = "/api/v1/services", tag = super::openapi::tags::PUBLIC,
    responses((status = 200, description = "The service catalogue: what each office may ask for.", body = ServiceCatalogue)))]
pub async fn services_json(State(app): State<AppState>) -> Response {
    let mut response = Json(catalogue(app.vault.policies())).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    response
}

/// `GET /services`: the catalogue as a page, in the page's language.
pub async fn services_page(State(app): State<AppState>, page: Page) -> Response {
    let markup = pages::services_page(&page.ctx, &catalogue(app.vault.policies()));
    page.respond(&app, StatusCode::OK, markup)
}
