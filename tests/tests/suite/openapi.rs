//! The served OpenAPI document is the one committed in docs/openapi.json (CI's check,
//! issue 6), and `/docs` serves a browsable page over it; neither needs a token.

use serde_json::Value;

use crate::helpers::{spawn_app, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_committed_one_and_docs_browse_it() {
    let app = spawn_app(Store::Sqlite).await;
    let served = app
        .send_as(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(served.status(), 200);
    let served: Value = served.json().await.unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json"))
            .expect("docs/openapi.json"),
    )
    .unwrap();
    assert!(
        served == committed,
        "GET /openapi.json differs from docs/openapi.json: regenerate it with \
         EDOC_BLESS_OPENAPI=1 cargo test -p api --lib openapi"
    );
    let docs = app.send_as(reqwest::Method::GET, "/docs", None, None).await;
    assert_eq!(docs.status(), 200);
    assert!(docs
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = docs.text().await.unwrap();
    assert!(
        page.contains("edoc-ledger"),
        "the page carries the document"
    );
    app.finish().await;
}
