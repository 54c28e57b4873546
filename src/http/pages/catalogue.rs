//! `GET /services`: the service catalogue as a page (see `http::catalogue`).
//! One section per service; the fields grouped by document; the numbers
//! a citizen can at most allow; a link to the same list as JSON.

use super::*;
use crate::http::catalogue::{CatalogueService, FilesRule, ServiceCatalogue, Texts};
use crate::http::i18n::{InfoText, info};

fn text(lang: Lang, texts: &Texts) -> &str {
    match lang {
        Lang::De => &texts.de,
        Lang::En => &texts.en,
    }
}

pub fn services_page(ctx: &PageContext, catalogue: &ServiceCatalogue) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (info(lang, InfoText::ServicesTitle)) }
        p { (info(lang, InfoText::ServicesIntro)) }
        nav aria-label=(info(lang, InfoText::ServicesListLabel)) {
            ul {
                @for service in &catalogue.services {
                    li { a href={ "#service-" (service.id) } { (text(lang, &service.name)) } }
                }
            }
        }
        @for service in &catalogue.services {
            (service_section(lang, service))
        }
        p { a href="/api/v1/services" type="application/json" { (info(lang, InfoText::ServicesJsonLink)) } }
    };
    layout(ctx, info(lang, InfoText::ServicesTitle), body)
}

fn service_section(lang: Lang, service: &CatalogueService) -> Markup {
    // The fields grouped by their document, in the policy's order.
    let mut documents: Vec<(&Texts, Vec<&Texts>)> = Vec::new();
    for field in &service.fields {
        match documents.iter_mut().find(|(name, _)| name.de == field.evidence_type_name.de) {
            Some((_, labels)) => labels.push(&field.label),
            None => documents.push((&field.evidence_type_name, vec![&field.label])),
        }
    }
    let files = match service.files {
        FilesRule::Required => InfoText::ServicesFilesRequired,
        FilesRule::Optional => InfoText::ServicesFilesOptional,
        FilesRule::None => InfoText::ServicesFilesNone,
    };
    html! {
        section.service aria-labelledby={ "service-" (service.id) } {
            h2 id={ "service-" (service.id) } { (text(lang, &service.name)) }
            dl {
                dt { (info(lang, InfoText::ServicesDepartment)) }
                dd {
                    (text(lang, &service.department.name))
                    @if let Some(contact) = &service.department.contact {
                        br; (text(lang, contact))
                    }
                }
                dt { (info(lang, InfoText::ServicesPurpose)) }
                dd { (text(lang, &service.purpose)) }
                dt { (info(lang, InfoText::ServicesLegalBasis)) }
                dd {
                    @if let Some(plain) = &service.legal_basis_plain {
                        (text(lang, plain)) br;
                    }
                    small { (text(lang, &service.legal_basis)) }
                }
                dt { (info(lang, InfoText::ServicesFields)) }
                dd {
                    ul {
                        @for (document, labels) in &documents {
                            li {
                                (text(lang, document)) ": "
                                (labels.iter().map(|label| text(lang, label)).collect::<Vec<_>>().join(", "))
                            }
                        }
                    }
                }
                dt { (info(lang, InfoText::ServicesFiles)) }
                dd { (info(lang, files)) }
                dt { (info(lang, InfoText::ServicesDuration)) }
                dd { (service.max_grant_duration_days) " " (info(lang, InfoText::ServicesDays)) }
                dt { (info(lang, InfoText::ServicesUses)) }
                dd { (service.max_uses) }
                dt { (info(lang, InfoText::ServicesLevel)) }
                dd { (crate::http::i18n::login_level_name(lang, service.min_login_level)) }
                @if let Some(other) = &service.other_ways {
                    dt { (info(lang, InfoText::ServicesOtherWays)) }
                    dd { (text(lang, other)) }
                }
            }
        }
    }
}
