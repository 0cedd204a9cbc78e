//! The OpenAPI 3 document (`GET /openapi.json`), generated from the handlers and types.
//!
//! Every operation also lists the problem+json errors of API.md (400, 404, 409, 422,
//! 503), added here once rather than on each handler.

use axum::Json;
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::OpenApi;

use super::agreements;
use super::error::Problem;
use super::queries;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "edoc-ledger",
        description = "The event-sourced contract and billing ledger of the E-DOC portal. Money is a JSON string with 2 decimals; dates are YYYY-MM-DD in Kazakhstan; every rule names its clause of the public offer."
    ),
    paths(
        agreements::register,
        agreements::agreement_events,
        agreements::sign,
        agreements::issue_invoice,
        agreements::receive_payment,
        agreements::suspend,
        agreements::reinstate,
        agreements::block,
        agreements::unblock,
        agreements::request_termination,
        agreements::charge,
        agreements::waive,
        agreements::declare_force_majeure,
        agreements::end_force_majeure,
        queries::list,
        queries::agreement,
        queries::balance,
        queries::invoices,
        queries::penalties,
        queries::statement,
        queries::journal,
        queries::aging,
        super::health,
        super::sweeps::sweep,
        super::sweeps::dunning,
    ),
    components(schemas(Problem))
)]
pub struct ApiDoc;

/// The document with the shared error responses added to every operation.
pub fn document() -> Document {
    let mut document = ApiDoc::openapi();
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "Problem",
                    ))))
                    .build(),
            )
            .build()
    };
    for item in document.paths.paths.values_mut() {
        let operations = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let is_command = operation.request_body.is_some();
            let mut errors = vec![
                (
                    "400",
                    "Malformed input: bad JSON, unknown field, bad date, id or amount",
                ),
                ("404", "Unknown agreement or invoice"),
                (
                    "503",
                    "The event store does not answer; nothing was recorded",
                ),
            ];
            if is_command {
                errors.push((
                    "409",
                    "Conflicts with the agreement's state or a concurrent write",
                ));
                errors.push(("422", "Breaks a rule of the offer; `clause` names it"));
            } else {
                errors.push(("422", "Reference data needed for a figure is missing"));
            }
            for (status, description) in errors {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| RefOr::T(problem(description)));
            }
        }
    }
    document
}

/// `GET /openapi.json`.
pub async fn openapi_json() -> Json<Document> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves (but the document itself and the fallbacks).
    const ROUTES: &[(&str, &str)] = &[
        ("post", "/v1/agreements"),
        ("get", "/v1/agreements"),
        ("get", "/v1/agreements/{id}"),
        ("get", "/v1/agreements/{id}/events"),
        ("post", "/v1/agreements/{id}/signature"),
        ("post", "/v1/agreements/{id}/invoices"),
        ("get", "/v1/agreements/{id}/invoices"),
        ("post", "/v1/agreements/{id}/payments"),
        ("post", "/v1/agreements/{id}/suspension"),
        ("post", "/v1/agreements/{id}/reinstatement"),
        ("post", "/v1/agreements/{id}/block"),
        ("post", "/v1/agreements/{id}/unblock"),
        ("post", "/v1/agreements/{id}/termination"),
        ("post", "/v1/agreements/{id}/charges"),
        ("post", "/v1/agreements/{id}/waivers"),
        ("get", "/v1/agreements/{id}/balance"),
        ("get", "/v1/agreements/{id}/penalties"),
        ("get", "/v1/agreements/{id}/statement"),
        ("get", "/v1/agreements/{id}/journal"),
        ("get", "/v1/reports/aging"),
        ("get", "/healthz"),
        ("post", "/v1/sweeps"),
        ("post", "/v1/agreements/{id}/force-majeure"),
        ("post", "/v1/agreements/{id}/force-majeure/end"),
        ("get", "/v1/reports/dunning"),
    ];

    #[test]
    fn the_document_describes_every_route_and_nothing_else() {
        let value = serde_json::to_value(document()).unwrap();
        let mut documented = Vec::new();
        for (path, item) in value["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.clone(), path.clone()));
            }
        }
        documented.sort();
        let mut expected: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        expected.sort();
        assert_eq!(documented, expected);
    }

    #[test]
    fn money_is_a_string_and_errors_are_problems() {
        let value = serde_json::to_value(document()).unwrap();
        let schemas = &value["components"]["schemas"];
        assert_eq!(schemas["Money"]["type"], "string", "{}", schemas["Money"]);
        assert_eq!(schemas["Amount"]["type"], "string");
        let balance = &schemas["BalanceView"]["properties"]["total_due"];
        assert_eq!(balance["$ref"], "#/components/schemas/Money", "{balance}");
        let payment = &value["paths"]["/v1/agreements/{id}/payments"]["post"];
        assert!(payment["responses"]["422"]["content"]["application/problem+json"].is_object());
        assert!(payment["requestBody"].is_object());
        let balance_get = &value["paths"]["/v1/agreements/{id}/balance"]["get"];
        let params: Vec<&str> = balance_get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["id", "as_of"]);
    }
}
