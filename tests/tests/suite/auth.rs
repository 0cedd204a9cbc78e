//! Authentication and roles (API.md "Auth", issue 6): the role x endpoint matrix, the
//! tokens that are refused (none, malformed, unknown, revoked), a participant that cannot
//! see another agreement (404, as if it did not exist), and the token's name recorded as
//! the actor of the events it causes. On both stores.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use api::application::tokens::Role;

use crate::helpers::{invoice, participant_ids, registration, spawn_app, Store, OPERATOR_BIN};

/// Who may call what: `Staff` reads (operator, billing, auditor), `Agreement` reads
/// (those and the agreement's own participant), `Billing` commands (operator,
/// billing), `Operator` commands, `Public`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Public,
    Staff,
    Agreement,
    Billing,
    Operator,
}

impl Rule {
    fn allows(self, role: Role) -> bool {
        match self {
            Rule::Public => true,
            Rule::Staff => role != Role::Participant,
            Rule::Agreement => true,
            Rule::Billing => matches!(role, Role::Operator | Role::Billing),
            Rule::Operator => role == Role::Operator,
        }
    }
}

fn endpoints(own: &str, other: &str, digest: &Value) -> Vec<(Method, String, Option<Value>, Rule)> {
    let a = |tail: &str| format!("/v1/agreements/{own}{tail}");
    let on = json!({"on": "2026-02-20", "reason": "verification"});
    let lift = json!({"on": "2026-02-21", "reason": "checked"});
    vec![
        (Method::GET, "/healthz".into(), None, Rule::Public),
        (Method::GET, "/openapi.json".into(), None, Rule::Public),
        (Method::GET, "/v1/agreements".into(), None, Rule::Staff),
        (Method::GET, a(""), None, Rule::Agreement),
        (Method::GET, a("/balance"), None, Rule::Agreement),
        (
            Method::GET,
            a("/balance?explain=true"),
            None,
            Rule::Agreement,
        ),
        (Method::GET, a("/invoices"), None, Rule::Agreement),
        (Method::GET, a("/penalties"), None, Rule::Agreement),
        (Method::GET, a("/statement"), None, Rule::Agreement),
        (Method::GET, a("/journal"), None, Rule::Agreement),
        (Method::GET, a("/events"), None, Rule::Agreement),
        (Method::GET, "/v1/reports/aging".into(), None, Rule::Staff),
        (Method::GET, "/v1/reports/dunning".into(), None, Rule::Staff),
        (Method::GET, "/v1/audit/verify".into(), None, Rule::Staff),
        (Method::GET, "/v1/audit/digest".into(), None, Rule::Staff),
        (
            Method::POST,
            "/v1/audit/digest/verify".into(),
            Some(digest.clone()),
            Rule::Staff,
        ),
        (
            Method::POST,
            "/v1/agreements".into(),
            Some(registration(other)),
            Rule::Operator,
        ),
        (
            Method::POST,
            a("/signature"),
            Some(json!({"signed_on": "2026-01-06"})),
            Rule::Operator,
        ),
        (
            Method::POST,
            a("/invoices"),
            Some(invoice("2026-02-02", "100.00")),
            Rule::Billing,
        ),
        (
            Method::POST,
            a("/payments"),
            Some(json!({"reference": "AUTH-1", "received_on": "2026-02-03", "amount": "1.00"})),
            Rule::Billing,
        ),
        (
            Method::POST,
            a("/suspension"),
            Some(on.clone()),
            Rule::Operator,
        ),
        (
            Method::POST,
            a("/reinstatement"),
            Some(lift.clone()),
            Rule::Operator,
        ),
        (Method::POST, a("/block"), Some(on), Rule::Operator),
        (Method::POST, a("/unblock"), Some(lift), Rule::Operator),
        (
            Method::POST,
            a("/charges"),
            Some(json!({"invoice_number": "1", "kind": "penalty", "on": "2026-03-01"})),
            Rule::Operator,
        ),
        (
            Method::POST,
            a("/waivers"),
            Some(
                json!({"invoice_number": "1", "kind": "penalty", "amount": "1.00", "reason": "goodwill"}),
            ),
            Rule::Operator,
        ),
        (
            Method::POST,
            a("/termination"),
            Some(json!({"ground": "participant_notice", "notice_received_on": "2026-03-02"})),
            Rule::Operator,
        ),
        (
            Method::POST,
            a("/force-majeure"),
            Some(
                json!({"started_on": "2026-03-03", "notice_received_on": "2026-03-03", "description": "flood"}),
            ),
            Rule::Operator,
        ),
        (
            Method::POST,
            a("/force-majeure/end"),
            Some(json!({"ended_on": "2026-03-04"})),
            Rule::Operator,
        ),
        // The corrections (API.md, v1 second part: operator, billing).
        (
            Method::POST,
            a("/payments/AUTH-1/reversal"),
            Some(json!({"on": "2026-03-04", "reason": "returned by the bank"})),
            Rule::Billing,
        ),
        (
            Method::POST,
            a("/refunds"),
            Some(
                json!({"reference": "AUTH-R1", "on": "2026-03-04", "amount": "0.01", "reason": "asked back"}),
            ),
            Rule::Billing,
        ),
        (
            Method::POST,
            a("/invoices/1/credit-notes"),
            Some(json!({"on": "2026-03-04", "reason": "a day of outage", "net": "1.00"})),
            Rule::Billing,
        ),
        (
            Method::POST,
            a("/invoices/1/void"),
            Some(json!({"on": "2026-03-04", "reason": "issued by mistake"})),
            Rule::Billing,
        ),
        (
            Method::POST,
            "/v1/sweeps".into(),
            Some(json!({"as_of": "2026-03-05"})),
            Rule::Billing,
        ),
    ]
}

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_client_error() {
        assert_eq!(content_type, "application/problem+json", "{body}");
    }
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_the_documented_status_on_every_endpoint() {
    for store in [Store::Postgres, Store::Sqlite] {
        let app = spawn_app(store).await;
        let others = participant_ids(2);
        let (own, other) = (OPERATOR_BIN, others[0].as_str());
        app.signed_agreement(own).await;
        app.signed_agreement(&others[1]).await;
        let digest = app.get_json("/v1/audit/digest").await;

        let billing = app.token(Role::Billing, "test-billing", None).await;
        let auditor = app.token(Role::Auditor, "test-auditor", None).await;
        let participant = app
            .token(Role::Participant, "test-participant", Some(own))
            .await;
        let stranger = app
            .token(Role::Participant, "test-stranger", Some(&others[1]))
            .await;
        let tokens = [
            (Role::Operator, app.operator_token.clone()),
            (Role::Billing, billing.clone()),
            (Role::Auditor, auditor),
            (Role::Participant, participant),
        ];

        for (method, path, body, rule) in endpoints(own, other, &digest) {
            for (role, token) in &tokens {
                let response = app
                    .send_as(
                        method.clone(),
                        &path,
                        Some(&format!("Bearer {token}")),
                        body.as_ref(),
                    )
                    .await;
                let (status, answer) = problem(response).await;
                let case = format!("{store:?} {role:?} {method} {path}: {status} {answer}");
                if rule.allows(*role) {
                    assert!(
                        status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                        "allowed, but {case}"
                    );
                    if method == Method::GET {
                        assert_eq!(status, StatusCode::OK, "{case}");
                    }
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{case}");
                    assert_eq!(answer["status"], 403, "{case}");
                }
            }
            if rule == Rule::Public {
                continue;
            }
            // No token, a malformed header, an unknown token: 401, with the challenge.
            let unknown = format!("Bearer edoc_00000000_{}", "0".repeat(64));
            for authorization in [
                None,
                Some("Basic dXNlcjpwYXNz"),
                Some("Bearer"),
                Some(unknown.as_str()),
            ] {
                let response = app
                    .send_as(method.clone(), &path, authorization, body.as_ref())
                    .await;
                assert_eq!(
                    response
                        .headers()
                        .get("www-authenticate")
                        .map(|v| v.to_str().unwrap()),
                    Some("Bearer realm=\"edoc-ledger\""),
                    "{store:?} {method} {path} with {authorization:?}"
                );
                let (status, _) = problem(response).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{store:?} {method} {path} with {authorization:?}"
                );
            }
        }

        // A participant sees no other agreement: 404, exactly as for one that does not exist.
        let stranger_header = format!("Bearer {stranger}");
        for path in [
            format!("/v1/agreements/{own}"),
            format!("/v1/agreements/{own}/balance"),
            format!("/v1/agreements/{own}/events"),
        ] {
            let (status, answer) = problem(
                app.send_as(Method::GET, &path, Some(&stranger_header), None)
                    .await,
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
            assert_eq!(
                answer["detail"],
                format!("no agreement is registered for participant {own}"),
                "{path}: the same answer as for an agreement that does not exist"
            );
        }
        let missing = participant_ids(3)[2].clone();
        let (status, absent) = problem(app.get(&format!("/v1/agreements/{missing}")).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            absent["detail"],
            format!("no agreement is registered for participant {missing}")
        );

        // A revoked token is refused within the token cache's lifetime (200 ms here,
        // `--token-cache-ms`; 5 s by default).
        let revoked = app.token(Role::Auditor, "test-revoked", None).await;
        let header = format!("Bearer {revoked}");
        assert_eq!(
            app.send_as(Method::GET, "/v1/reports/aging", Some(&header), None)
                .await
                .status(),
            200
        );
        let id = revoked.split('_').nth(1).unwrap();
        api::application::tokens::revoke(app.ledger.repository(), id)
            .await
            .unwrap();
        let revoked_at = std::time::Instant::now();
        while app
            .send_as(Method::GET, "/v1/reports/aging", Some(&header), None)
            .await
            .status()
            != 401
        {
            assert!(
                revoked_at.elapsed() < std::time::Duration::from_secs(2),
                "a revoked token still accepted 2 s later"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_millis(200 + 300),
            "refused within the cache's lifetime: {:?}",
            revoked_at.elapsed()
        );

        // The token's name is the actor of what it records.
        let events = app.events(own).await;
        let payment = events
            .iter()
            .find(|e| e["type"] == "PaymentReceived")
            .expect("a payment");
        assert!(
            payment["actor"] == "test-operator" || payment["actor"] == "test-billing",
            "{payment}"
        );
        assert!(
            events.iter().any(|e| e["actor"] == "test-billing"),
            "billing recorded something"
        );
        app.finish().await;
    }
}
