//! The OpenAPI 3 document (`GET /openapi.json`), generated from the handlers and types.
//!
//! Each handler's `#[utoipa::path]` gives its method, path, parameters, request body and
//! success answers; the types' `ToSchema` give the wire format (money and amounts are
//! strings with 2 decimals, dates `YYYY-MM-DD`, ids strings). The problem+json errors of
//! API.md (400, 404, 409, 413, 415, 422, 503) are added here once, to the operations that
//! can answer them, rather than on each handler.

use axum::Json;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::OpenApi;

use super::agreements;
use super::error::Problem;
use super::queries;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "edoc-ledger",
        description = "The event-sourced contract and billing ledger of the E-DOC portal. Money is a JSON string with 2 decimals; dates are YYYY-MM-DD in Kazakhstan; every rule names its clause of the public offer. Errors are RFC 9457 problem details (application/problem+json)."
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
        agreements::reverse_payment,
        agreements::refund_advance,
        agreements::void_invoice,
        agreements::issue_credit_note,
        agreements::subscribe,
        agreements::end_subscription,
        queries::list,
        queries::agreement,
        queries::balance,
        queries::invoices,
        queries::penalties,
        queries::statement,
        queries::journal,
        queries::aging,
        super::health,
        super::metrics,
        super::sweeps::sweep,
        super::sweeps::dunning,
        super::periods::close,
        super::periods::list,
        super::audit::verify,
        super::audit::digest,
        super::audit::verify_digest,
        super::reference::versions,
        super::reference::publish,
        super::reference::import_rates,
        super::tariffs::list,
        super::tariffs::tariff,
        super::tariffs::publish,
        super::billing::run,
        super::billing::report,
        super::usage::ingest,
        super::usage::preview,
        super::feed::events,
        super::webhooks::register,
        super::webhooks::list,
        super::webhooks::remove,
        super::webhooks::deliveries,
        super::webhooks::resume,
        super::statements::import_statement,
        super::documents::esf,
        super::documents::esf_due,
        super::documents::act,
        super::documents::statement_pdf,
        super::statements::statement,
        super::statements::assign_line,
        openapi_json,
    ),
    components(schemas(
        Problem,
        events::ParticipantId,
        events::Money,
        events::Amount,
        super::reference::MrpVersionBody,
        super::reference::VatVersionBody,
        super::reference::RateVersionBody
    ))
)]
pub struct ApiDoc;

/// The path of this document.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The path of the browsable documentation (Scalar, reading this document).
pub const DOCS_PATH: &str = "/docs";
/// The name of the bearer-token security scheme.
pub const BEARER_SCHEME: &str = "bearer";

/// The problem+json answer with a description.
fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
                    .build(),
            )
            .build(),
    )
}

/// The errors an operation can answer, by what it is (API.md, "Errors").
/// The routes that answer a document drawn with the operator's details (BILLING.md 6).
fn is_document(path: &str) -> bool {
    path.ends_with("/esf") || path.ends_with("/statement.pdf") || path.contains("/acts/")
}

fn errors_of(path: &str, operation: &Operation) -> Vec<(&'static str, &'static str)> {
    if path == OPENAPI_PATH {
        return Vec::new();
    }
    if path == "/healthz" {
        return vec![("503", "The event store does not answer")];
    }
    let is_command = operation.request_body.is_some();
    if path.starts_with("/v1/webhooks") {
        return webhook_errors(path, is_command);
    }
    let mut errors = vec![
        (
            "400",
            "Malformed input: bad JSON, an unknown field or parameter, a bad date, id or amount",
        ),
        (
            "401",
            "No bearer token, a malformed `Authorization` header, or an unknown or revoked token",
        ),
        (
            "403",
            "The token's role may not call this endpoint (API.md \"Auth\")",
        ),
    ];
    if path.contains("{id}") {
        errors.push((
            "404",
            "No agreement is registered for the participant (as of the date), or no such invoice",
        ));
    }
    if path.contains("/acts/") {
        errors.push((
            "409",
            "The month is not closed (BILLING.md 5.4): its invoices may still change; close it first (`POST /v1/periods/{period}/close`)",
        ));
    }
    if is_command {
        errors.push((
            "409",
            "Conflicts with the agreement's state or a concurrent write, or the Idempotency-Key was used for another request; nothing was recorded",
        ));
        errors.push(("413", "The request body is too large"));
        errors.push((
            "415",
            "The request body is not sent as `Content-Type: application/json`",
        ));
        errors.push((
            "422",
            "Well-formed but breaks a rule of the offer; `clause` names it; nothing was recorded",
        ));
    } else {
        errors.push((
            "422",
            "Reference data needed for a figure (MRP, rates) is missing; `clause` names the rule",
        ));
    }
    errors.push((
        "503",
        if is_document(path) {
            "The event store does not answer, or the operator's details for its documents (EDOC_OPERATOR_*) are not configured"
        } else {
            "The event store does not answer; retry later with the same Idempotency-Key (or payment reference), which records the command at most once"
        },
    ));
    errors
}

/// The errors of the webhook routes: no agreement, rule or reference data involved.
fn webhook_errors(path: &str, is_command: bool) -> Vec<(&'static str, &'static str)> {
    let mut errors = vec![
        (
            "400",
            "Malformed input: bad JSON, an unknown field or parameter, a URL that is not http(s), an unknown event type, a missing or too long secret; nothing was recorded",
        ),
        (
            "401",
            "No bearer token, a malformed `Authorization` header, or an unknown or revoked token",
        ),
        ("403", "Only an operator's token may call this endpoint"),
    ];
    if path.contains("{webhook_id}") {
        errors.push(("404", "No webhook endpoint has this id, or it was deleted"));
    }
    if is_command {
        errors.push((
            "409",
            "The Idempotency-Key was used for another request; nothing was recorded",
        ));
        errors.push(("413", "The request body is too large"));
        errors.push((
            "415",
            "The request body is not sent as `Content-Type: application/json`",
        ));
    }
    errors.push(("503", "The event store does not answer; retry later"));
    errors
}

/// The commands that take no body (and so no Idempotency-Key: repeating them changes
/// nothing more).
pub fn bodiless_command(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        ("delete", "/v1/webhooks/{webhook_id}") | ("post", "/v1/webhooks/{webhook_id}/resumption")
    )
}

/// The document with the shared error answers added to every operation, and the
/// agreement id in every path described as the participant's BIN/IIN.
pub fn document() -> Document {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn as In};
    use utoipa::openapi::security::{
        HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };
    let mut document = ApiDoc::openapi();
    document
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token made by `edoc-ledger token create`; its role decides what it may call (operator, billing, auditor, participant)",
                    ))
                    .build(),
            ),
        );
    for (path, item) in document.paths.paths.iter_mut() {
        let public = path == OPENAPI_PATH || path == "/healthz";
        let operations = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            // A bank statement's id is its own (INTEGRATION.md 2), not a participant's.
            let agreement_id = !path.starts_with("/v1/bank-statements/");
            for parameter in operation.parameters.iter_mut().flatten() {
                if agreement_id
                    && parameter.name == "id"
                    && parameter.parameter_in == ParameterIn::Path
                {
                    parameter.schema = Some(RefOr::Ref(Ref::from_schema_name("ParticipantId")));
                }
            }
            if !public {
                operation.security = Some(vec![SecurityRequirement::new(
                    BEARER_SCHEME,
                    Vec::<String>::new(),
                )]);
            }
            if operation.request_body.is_some() && path != "/v1/audit/digest/verify" {
                operation.parameters.get_or_insert_with(Vec::new).push(
                    ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(In::Header)
                        .required(utoipa::openapi::Required::False)
                        .description(Some(
                            "Makes a retry safe: the same key with the same request answers the first answer and records nothing; with another request, 409. 1 to 255 visible ASCII characters, kept 24 h by default.",
                        ))
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::String)
                                .min_length(Some(1))
                                .max_length(Some(255))
                                .pattern(Some("^[\\x21-\\x7E]+$")),
                        ))
                        .build(),
                );
            }
            for (status, description) in errors_of(path, operation) {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            }
        }
    }
    document
}

/// `GET /openapi.json`: this document. No token needed (API.md).
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "The OpenAPI 3 document of this API", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Json<Document> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::Value;

    use super::*;

    /// Every route the router serves (but the fallbacks), written once. The tests below
    /// compare it both ways with the document and with the router's `.route(...)` calls.
    const ROUTES: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/openapi.json"),
        ("get", "/metrics"),
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
        ("post", "/v1/agreements/{id}/force-majeure"),
        ("post", "/v1/agreements/{id}/force-majeure/end"),
        ("post", "/v1/agreements/{id}/payments/{reference}/reversal"),
        ("post", "/v1/agreements/{id}/refunds"),
        ("post", "/v1/agreements/{id}/invoices/{number}/void"),
        ("post", "/v1/agreements/{id}/invoices/{number}/credit-notes"),
        ("post", "/v1/agreements/{id}/subscription"),
        ("delete", "/v1/agreements/{id}/subscription"),
        ("get", "/v1/tariffs"),
        ("get", "/v1/tariffs/{code}"),
        ("put", "/v1/tariffs/{code}"),
        ("post", "/v1/billing-runs"),
        ("get", "/v1/billing-runs/{period}"),
        ("get", "/v1/events"),
        ("post", "/v1/webhooks"),
        ("get", "/v1/webhooks"),
        ("delete", "/v1/webhooks/{webhook_id}"),
        ("get", "/v1/webhooks/{webhook_id}/deliveries"),
        ("post", "/v1/webhooks/{webhook_id}/resumption"),
        ("get", "/v1/agreements/{id}/balance"),
        ("get", "/v1/agreements/{id}/penalties"),
        ("get", "/v1/agreements/{id}/statement"),
        ("get", "/v1/agreements/{id}/journal"),
        ("get", "/v1/reports/aging"),
        ("get", "/v1/reports/dunning"),
        ("get", "/v1/audit/verify"),
        ("get", "/v1/audit/digest"),
        ("post", "/v1/audit/digest/verify"),
        ("post", "/v1/sweeps"),
        ("get", "/v1/periods"),
        ("post", "/v1/periods/{period}/close"),
        ("get", "/v1/reference/{table}"),
        ("put", "/v1/reference/{table}/{range}"),
        ("post", "/v1/reference/exchange-rates/import"),
        ("post", "/v1/usage"),
        ("get", "/v1/agreements/{id}/usage"),
        ("get", "/v1/agreements/{id}/invoices/{number}/esf"),
        ("get", "/v1/reports/esf-due"),
        ("get", "/v1/agreements/{id}/acts/{month}"),
        ("get", "/v1/agreements/{id}/statement.pdf"),
        ("post", "/v1/bank-statements"),
        ("get", "/v1/bank-statements/{id}"),
        ("post", "/v1/bank-statements/{id}/lines/{n}/assignment"),
    ];

    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    fn listed() -> BTreeSet<(String, String)> {
        let routes: BTreeSet<_> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(routes.len(), ROUTES.len(), "a route is listed twice");
        routes
    }

    fn json() -> Value {
        serde_json::to_value(document()).unwrap()
    }

    fn documented(value: &Value) -> BTreeSet<(String, String)> {
        let mut documented = BTreeSet::new();
        for (path, item) in value["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                assert!(METHODS.contains(&method.as_str()), "{method} {path}");
                documented.insert((method.clone(), path.clone()));
            }
        }
        documented
    }

    /// Index just past the `)` that closes the `(` just before `start`.
    fn closing(text: &str, start: usize) -> usize {
        let mut depth = 1;
        for (offset, c) in text[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return start + offset + 1;
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced `.route(` at {start}");
    }

    /// The (method, path) pairs of every `.route("...", get(..).post(..))` in the HTTP
    /// module's source: what the router serves, read without starting a server.
    fn routed() -> BTreeSet<(String, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let mut routes = BTreeSet::new();
        let mut files = Vec::new();
        let mut pending = vec![dir];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                // The back office (`http/ui`) is not the API: HTML pages behind a
                // session, not in the OpenAPI document nor the token access table.
                if path.is_dir() && !path.ends_with("ui") {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("openapi.rs")
                {
                    files.push(path);
                }
            }
        }
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for unsupported in [
                ".nest(",
                ".route_service(",
                ".nest_service(",
                "on(MethodFilter",
            ] {
                assert!(
                    !source.contains(unsupported),
                    "{}: `{unsupported}` is not read by this test; teach it",
                    file.display()
                );
            }
            for (start, _) in source.match_indices(".route(") {
                let open = start + ".route(".len();
                let call = &source[open..closing(&source, open)];
                let path = call.split('"').nth(1).unwrap_or_else(|| {
                    panic!("{}: a route without a literal path", file.display())
                });
                let handlers = &call[call.find(',').expect("a route has handlers")..];
                let mut methods = 0;
                for method in METHODS {
                    let token = format!("{method}(");
                    for (at, _) in handlers.match_indices(&token) {
                        let before = handlers[..at].chars().next_back();
                        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                            routes.insert((method.to_owned(), path.to_owned()));
                            methods += 1;
                        }
                    }
                }
                assert!(methods > 0, "{}: no method read for {path}", file.display());
            }
        }
        routes
    }

    /// CI's check (issue 6): the document committed in docs is the one served. After a
    /// change to the API, regenerate it with
    /// `EDOC_BLESS_OPENAPI=1 cargo test -p api --lib openapi` and review the diff.
    #[test]
    fn the_committed_document_is_the_served_one() {
        let served = serde_json::to_string_pretty(&document()).unwrap() + "\n";
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        if std::env::var_os("EDOC_BLESS_OPENAPI").is_some() {
            std::fs::write(&path, &served).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == served,
            "docs/openapi.json is not what GET /openapi.json serves; regenerate it with \
             EDOC_BLESS_OPENAPI=1 cargo test -p api --lib openapi, and review the diff"
        );
    }

    #[test]
    fn every_command_takes_an_idempotency_key_and_every_private_route_a_token() {
        let value = json();
        assert_eq!(
            value["components"]["securitySchemes"][BEARER_SCHEME]["scheme"],
            "bearer"
        );
        for (method, path) in ROUTES {
            let operation = &value["paths"][path][method];
            let public = *path == "/healthz" || *path == OPENAPI_PATH;
            assert_eq!(
                operation["security"].is_null(),
                public,
                "{method} {path}: a token unless public"
            );
            if !public {
                assert!(operation["responses"]["401"].is_object(), "{method} {path}");
                assert!(operation["responses"]["403"].is_object(), "{method} {path}");
            }
            let keyed = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
            let command = (*method == "post" || *method == "put" || *method == "delete")
                && *path != "/v1/audit/digest/verify"
                && !bodiless_command(method, path);
            assert_eq!(
                keyed, command,
                "{method} {path}: Idempotency-Key on commands"
            );
        }
    }

    #[test]
    fn the_document_describes_every_route_and_nothing_else() {
        let listed = listed();
        let documented = documented(&json());
        let missing: Vec<_> = listed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "in ROUTES but not documented: {missing:?}"
        );
        assert!(extra.is_empty(), "documented but not in ROUTES: {extra:?}");
    }

    /// Issue 13: a route added to the router without an entry in the access table
    /// would be operator-only by default, silently; this names it instead, so whoever
    /// adds a route decides who may call it.
    #[test]
    fn every_routed_route_has_an_entry_in_the_access_table() {
        let unlisted: Vec<_> = routed()
            .into_iter()
            .filter(|(method, path)| {
                let method = axum::http::Method::from_bytes(method.to_uppercase().as_bytes())
                    .expect("a method");
                crate::http::auth::listed_access(&method, path).is_none()
            })
            .collect();
        assert!(
            unlisted.is_empty(),
            "routes with no entry in http::auth::listed_access: {unlisted:?}"
        );
    }

    #[test]
    fn the_list_is_what_the_router_serves() {
        let listed = listed();
        let routed = routed();
        let missing: Vec<_> = routed.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&routed).collect();
        assert!(missing.is_empty(), "routed but not in ROUTES: {missing:?}");
        assert!(extra.is_empty(), "in ROUTES but not routed: {extra:?}");
    }

    fn resolve<'a>(value: &'a Value, mut schema: &'a Value) -> &'a Value {
        while let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            schema = &value["components"]["schemas"][name];
            assert!(schema.is_object(), "dangling {reference}");
        }
        schema
    }

    /// A property of an object schema, looking through `allOf`.
    fn property<'a>(value: &'a Value, schema: &'a Value, name: &str) -> Option<&'a Value> {
        let schema = resolve(value, schema);
        if let Some(found) = schema["properties"].get(name) {
            return Some(found);
        }
        schema["allOf"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|part| property(value, part, name))
    }

    fn assert_money(value: &Value, schema_name: &str, field: &str) {
        let schema = &value["components"]["schemas"][schema_name];
        assert!(schema.is_object(), "no schema {schema_name}");
        let field_schema = property(value, schema, field)
            .unwrap_or_else(|| panic!("{schema_name} has no field `{field}`"));
        // A figure that may be missing (a pending fine) is `null` or money.
        let field_schema = field_schema["oneOf"]
            .as_array()
            .and_then(|choices| choices.iter().find(|c| c["type"] != "null"))
            .unwrap_or(field_schema);
        let money = resolve(value, field_schema);
        assert_eq!(money["type"], "string", "{schema_name}.{field}: {money}");
        assert!(
            money["pattern"].is_string(),
            "{schema_name}.{field}: {money}"
        );
        assert_eq!(money["examples"][0], "12500.00", "{schema_name}.{field}");
    }

    #[test]
    fn money_is_a_string_with_two_decimals() {
        let value = json();
        let schemas = value["components"]["schemas"].as_object().unwrap();
        for name in ["Money", "Amount"] {
            assert_eq!(schemas[name]["type"], "string", "{}", schemas[name]);
        }
        // The money fields API.md names, answers and request bodies alike.
        let money = [
            (
                "BalanceView",
                &[
                    "invoiced",
                    "paid",
                    "outstanding",
                    "penalties_accrued",
                    "penalties_charged",
                    "fines",
                    "advance",
                    "total_due",
                ][..],
            ),
            (
                "InvoiceView",
                &["net", "vat", "total", "settled_from_advance", "outstanding"],
            ),
            ("InvoiceLineView", &["unit_price", "amount"]),
            (
                "InvoiceStatusView",
                &["total", "paid", "outstanding", "penalty_accrued", "fine"],
            ),
            ("PenaltyView", &["base", "amount", "fine"]),
            (
                "StatementView",
                &["opening", "closing", "debits", "credits"],
            ),
            ("StatementLine", &["debit", "credit"]),
            ("PaymentView", &["amount", "advance"]),
            (
                "BankStatementTotals",
                &[
                    "credits_sum",
                    "debits_sum",
                    "matched_sum",
                    "unmatched_sum",
                    "duplicate_sum",
                    "reversed_credits_sum",
                ],
            ),
            ("BankStatementLineView", &["amount"]),
            ("AllocationView", &["principal", "penalty", "fine"]),
            (
                "AgingBuckets",
                &["current", "1_15", "16_30", "31_90", "over_90", "total"],
            ),
            (
                "AgingRow",
                &["current", "1_15", "16_30", "31_90", "over_90", "total"],
            ),
            ("AgingTotals", &["total"]),
            ("AgreementView", &["advance"]),
            ("TerminationAnswer", &["advance"]),
            ("ChargeAnswer", &["amount", "settled_from_advance"]),
            (
                "WaiverAnswer",
                &["amount", "charged_part", "uncharged_part"],
            ),
            ("JournalView", &["debits", "credits"]),
            (
                "BalanceExplanation",
                &["invoiced", "paid", "outstanding", "advance", "total_due"],
            ),
            ("FigureExplanation", &["amount"]),
            ("FigureTerm", &["amount"]),
            ("Posting", &["debit", "credit"]),
            ("InvoiceLineRequest", &["unit_price"]),
            ("ReceivePayment", &["amount"]),
            ("WaiveLatePayment", &["amount"]),
            ("ReversalAnswer", &["amount", "advance_removed", "advance"]),
            (
                "ReopenedInvoice",
                &[
                    "total",
                    "taken_back",
                    "paid",
                    "outstanding",
                    "penalty_owed",
                    "fine_owed",
                ],
            ),
            ("RefundAdvance", &["amount"]),
            ("RefundAnswer", &["amount", "advance_remaining"]),
            (
                "VoidAnswer",
                &["total_cancelled", "penalty_cancelled", "fine_cancelled"],
            ),
            ("CreditNoteRequest", &["net"]),
            (
                "CreditNoteAnswer",
                &[
                    "net",
                    "vat",
                    "total",
                    "to_advance",
                    "related_invoice_outstanding",
                ],
            ),
            ("WithdrawnChargeView", &["amount", "moved_to_advance"]),
        ];
        for (schema, fields) in money {
            for field in fields {
                assert_money(&value, schema, field);
            }
        }
        // Nowhere does money appear as the events' `{"amount", "currency"}` object.
        for (name, schema) in schemas {
            if let Some(amount) = schema["properties"].get("amount") {
                let amount = resolve(&value, amount);
                assert_eq!(amount["type"], "string", "{name}.amount: {amount}");
            }
        }
    }

    #[test]
    fn dates_and_ids_say_their_format() {
        let value = json();
        let schemas = &value["components"]["schemas"];
        assert_eq!(
            schemas["BalanceView"]["properties"]["as_of"]["format"],
            "date"
        );
        assert_eq!(
            schemas["Register"]["properties"]["registered_on"]["format"],
            "date"
        );
        assert_eq!(schemas["ParticipantId"]["type"], "string");
        assert_eq!(schemas["ParticipantId"]["pattern"], "^[0-9]{12}$");
        assert_eq!(schemas["InvoiceNumber"]["type"], "string");
    }

    fn parameters(value: &Value, method: &str, path: &str) -> Vec<(String, String)> {
        value["paths"][path][method]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["in"].as_str().unwrap().to_owned(),
                    p["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn every_operation_has_its_parameters_body_and_answers() {
        let value = json();
        for (method, path) in ROUTES {
            let operation = &value["paths"][path][method];
            let parameters = parameters(&value, method, path);
            let mut expected = Vec::new();
            if path.contains("{id}") {
                expected.push(("path".to_owned(), "id".to_owned()));
                let id = &operation["parameters"][0];
                assert_eq!(id["required"], true, "{method} {path}");
                // A bank statement's id is its own, not a participant's.
                if !path.starts_with("/v1/bank-statements/") {
                    assert_eq!(id["schema"]["$ref"], "#/components/schemas/ParticipantId");
                }
            }
            if path.contains("{n}") {
                expected.push(("path".to_owned(), "n".to_owned()));
            }
            for item in ["reference", "number"] {
                if path.contains(&format!("{{{item}}}")) {
                    expected.push(("path".to_owned(), item.to_owned()));
                }
            }
            let query: &[&str] = match (*method, *path) {
                ("get", "/v1/agreements") => &["status", "page", "per_page", "as_of", "known_at"],
                ("get", "/v1/agreements/{id}/statement") => &["from", "to", "as_of", "known_at"],
                ("get", "/v1/reports/dunning") => &["as_of", "charge_fines", "known_at"],
                ("get", "/v1/agreements/{id}/balance") => &["as_of", "explain", "known_at"],
                ("get", "/v1/agreements/{id}/events") => &["known_at"],
                (
                    "get",
                    "/healthz" | "/openapi.json" | "/metrics" | "/v1/audit/verify"
                    | "/v1/audit/digest",
                ) => &[],
                (
                    "get",
                    "/v1/reference/{table}" | "/v1/periods" | "/v1/tariffs" | "/v1/tariffs/{code}",
                ) => &["known_at"],
                // A run's report is a log of what the runs did, not a figure: the invoices
                // it lists are events, read with `known_at` from the agreements' invoices.
                ("get", "/v1/billing-runs/{period}") => &[],
                // A bank statement is a log of an import, not a figure (INTEGRATION.md 2).
                ("get", "/v1/bank-statements/{id}") => &[],
                // Usage records are not events: a month's preview has no `known_at`.
                ("get", "/v1/agreements/{id}/usage") => &["period"],
                // An invoice's document is the recorded invoice: no date to read it as of.
                ("get", "/v1/agreements/{id}/invoices/{number}/esf") => &[],
                // What is due now: the documents not produced yet, counted from today.
                ("get", "/v1/reports/esf-due") => &["limit"],
                // A month's act is of the services rendered in a month that is over.
                ("get", "/v1/agreements/{id}/acts/{month}") => &[],
                // The printed statement answers the JSON statement's query.
                ("get", "/v1/agreements/{id}/statement.pdf") => {
                    &["from", "to", "as_of", "known_at"]
                }
                // The feed reads what is recorded now, after a cursor (INTEGRATION.md 1).
                ("get", "/v1/events") => &["after", "limit", "wait"],
                ("get", "/v1/webhooks/{webhook_id}/deliveries") => &["limit"],
                ("get", "/v1/webhooks") => &[],
                ("get", _) => &["as_of", "known_at"],
                _ => &[],
            };
            if path.starts_with("/v1/reference/{table}") {
                expected.push(("path".to_owned(), "table".to_owned()));
            }
            if path.starts_with("/v1/periods/{period}")
                || path.starts_with("/v1/billing-runs/{period}")
            {
                expected.push(("path".to_owned(), "period".to_owned()));
            }
            if path.starts_with("/v1/tariffs/{code}") {
                expected.push(("path".to_owned(), "code".to_owned()));
            }
            if path.contains("{webhook_id}") {
                expected.push(("path".to_owned(), "webhook_id".to_owned()));
            }
            if path.ends_with("{month}") {
                expected.push(("path".to_owned(), "month".to_owned()));
            }
            expected.extend(query.iter().map(|q| ("query".to_owned(), q.to_string())));
            if path.ends_with("{range}") {
                expected.push(("path".to_owned(), "range".to_owned()));
            }
            if (*method == "post" || *method == "put" || *method == "delete")
                && *path != "/v1/audit/digest/verify"
                && !bodiless_command(method, path)
            {
                expected.push(("header".to_owned(), "Idempotency-Key".to_owned()));
            }
            assert_eq!(parameters, expected, "{method} {path}");
            for (_, name) in &parameters {
                if ["as_of", "from", "to"].contains(&name.as_str()) {
                    let parameter = operation["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|p| p["name"] == name.as_str())
                        .unwrap();
                    assert_eq!(
                        parameter["schema"]["format"], "date",
                        "{method} {path} {name}"
                    );
                    assert_eq!(parameter["required"], false, "{method} {path} {name}");
                }
            }

            let responses = operation["responses"].as_object().unwrap();
            let success: Vec<_> = responses.keys().filter(|s| s.starts_with('2')).collect();
            assert!(!success.is_empty(), "{method} {path}: no success answer");
            let media = if *path == "/metrics" {
                "text/plain"
            } else if path.ends_with("/esf") {
                "application/xml"
            } else if path.ends_with("/statement.pdf") || path.contains("/acts/") {
                "application/pdf"
            } else {
                "application/json"
            };
            for status in success.iter().filter(|status| **status != "204") {
                assert!(
                    responses[*status]["content"][media]["schema"].is_object(),
                    "{method} {path} {status}"
                );
            }
            let is_command = (*method == "post" || *method == "put" || *method == "delete")
                && !bodiless_command(method, path);
            assert_eq!(
                operation["requestBody"].is_object(),
                is_command,
                "{method} {path}"
            );
            if is_command {
                assert_eq!(
                    operation["requestBody"]["required"], true,
                    "{method} {path}"
                );
            }
            let mut errors = match *path {
                "/openapi.json" => vec![],
                "/healthz" => vec!["503"],
                _ if path.starts_with("/v1/webhooks") && is_command => {
                    vec!["400", "409", "413", "415", "503"]
                }
                _ if path.starts_with("/v1/webhooks") => vec!["400", "503"],
                _ if is_command => vec!["400", "409", "413", "415", "422", "503"],
                _ => vec!["400", "422", "503"],
            };
            if path.contains("{id}") || path.contains("{webhook_id}") {
                errors.push("404");
            }
            for status in errors {
                let problem = &responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path}: no {status}"))["content"];
                // A refused usage batch lists its records besides the problem's fields.
                let schema = match (*method, *path, status) {
                    ("post", "/v1/usage", "422") => "#/components/schemas/UsageProblem",
                    _ => "#/components/schemas/Problem",
                };
                assert_eq!(
                    problem["application/problem+json"]["schema"]["$ref"], schema,
                    "{method} {path} {status}"
                );
            }
        }
        let payment = &value["paths"]["/v1/agreements/{id}/payments"]["post"]["responses"];
        assert!(payment["201"].is_object() && payment["200"].is_object());
    }

    #[test]
    fn list_paging_matches_the_code() {
        let value = json();
        let list = value["paths"]["/v1/agreements"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let per_page = list.iter().find(|p| p["name"] == "per_page").unwrap();
        assert_eq!(
            per_page["schema"]["maximum"],
            crate::application::queries::PAGE_SIZE_MAX
        );
        assert_eq!(per_page["schema"]["default"], queries::PAGE_SIZE_DEFAULT);
        let status = list.iter().find(|p| p["name"] == "status").unwrap();
        let status = resolve(&value, &status["schema"]);
        let codes: Vec<_> = aggregates::AgreementStatus::ALL.map(|s| s.code()).to_vec();
        let documented: Vec<_> = status["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{status}"))
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(documented, codes);
    }

    #[test]
    fn the_balance_documents_its_explained_answer() {
        let value = json();
        let operation = &value["paths"]["/v1/agreements/{id}/balance"]["get"];
        let explain = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "explain")
            .expect("the explain parameter");
        assert_eq!(explain["in"], "query");
        assert_eq!(explain["required"], false);
        assert_eq!(explain["schema"]["type"], "boolean", "{explain}");
        assert_eq!(explain["schema"]["default"], false, "{explain}");

        // 200: the plain balance or the explained one (anyOf: an explained answer also
        // has every field of the plain one).
        let answer = resolve(
            &value,
            &operation["responses"]["200"]["content"]["application/json"]["schema"],
        );
        let alternatives: Vec<_> = answer["anyOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|a| a["$ref"].as_str().unwrap())
            .collect();
        assert_eq!(
            alternatives,
            [
                "#/components/schemas/BalanceView",
                "#/components/schemas/BalanceExplanation"
            ]
        );
        let explained = &value["components"]["schemas"]["BalanceExplanation"];
        let explanation = property(&value, explained, "explanation").expect("explanation");
        let figures = resolve(&value, explanation);
        let balance = &value["components"]["schemas"]["BalanceView"];
        // Every money figure of the balance is explained, under its own name.
        for (name, field) in balance["properties"].as_object().unwrap() {
            let is_money = resolve(&value, field)["pattern"].is_string();
            if is_money {
                assert_eq!(
                    figures["properties"][name]["$ref"], "#/components/schemas/FigureExplanation",
                    "explanation.{name}"
                );
            }
        }
        let term = &value["components"]["schemas"]["FigureTerm"];
        for field in [
            "amount",
            "what",
            "clause",
            "invoice_number",
            "figure",
            "sources",
        ] {
            assert!(
                property(&value, term, field).is_some(),
                "FigureTerm.{field}"
            );
        }
        let source = &value["components"]["schemas"]["EventRef"];
        for field in ["sequence", "event_type", "on", "hash"] {
            assert!(
                property(&value, source, field).is_some(),
                "EventRef.{field}"
            );
        }
        assert_eq!(source["properties"]["on"]["format"], "date");
    }
}
