//! The OpenAPI document is generated from the code and checked in at `docs/openapi.json`; this
//! test fails when the two drift. After a deliberate API change, regenerate it with
//! `LATCHKEY_UPDATE_OPENAPI=1 cargo test -p latchkey-http --test openapi`.

#![allow(clippy::unwrap_used)]

#[test]
fn the_checked_in_openapi_document_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = latchkey_http::openapi().to_pretty_json().unwrap() + "\n";
    if std::env::var_os("LATCHKEY_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/openapi.json is out of date; regenerate it with \
         LATCHKEY_UPDATE_OPENAPI=1 cargo test -p latchkey-http --test openapi"
    );
}

#[test]
fn every_operation_documents_its_problems() {
    let doc = serde_json::to_value(latchkey_http::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let has_problem = responses.keys().any(|code| code.starts_with('4'));
            assert!(has_problem, "{method} {path} documents no 4xx answer");
        }
    }
}
