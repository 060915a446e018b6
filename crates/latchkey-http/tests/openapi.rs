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

/// Every operation with its method, path and JSON, in document order.
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

#[test]
fn problem_answers_are_documented_as_problem_documents() {
    let doc = serde_json::to_value(latchkey_http::openapi()).unwrap();
    for (method, path, op) in operations(&doc) {
        for (code, response) in op["responses"].as_object().unwrap() {
            if !(code.starts_with('4') || code.starts_with('5')) {
                continue;
            }
            let content = response["content"].as_object();
            let types: Vec<&String> = content.map(|c| c.keys().collect()).unwrap_or_default();
            assert_eq!(
                types,
                ["application/problem+json"],
                "{method} {path} {code} must be documented as application/problem+json"
            );
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {code}"
            );
        }
    }
}

#[test]
fn every_operation_documents_the_problems_of_its_path_body_and_sign_in() {
    let doc = serde_json::to_value(latchkey_http::openapi()).unwrap();
    for (method, path, op) in operations(&doc) {
        let codes: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        let has = |code: &str| codes.iter().any(|c| *c == code);
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let mut expected = vec!["500"];
        if params.iter().any(|p| p["in"] == "path") {
            expected.extend(["400", "404"]);
        }
        if params.iter().any(|p| p["in"] == "query") {
            expected.push("400");
        }
        if op.get("requestBody").is_some() {
            expected.extend(["400", "413", "415", "422"]);
        }
        let public = op["security"] == serde_json::json!([{}]);
        if !public {
            expected.push("401");
            if method != "get" {
                expected.push("403");
            }
        }
        for code in expected {
            assert!(has(code), "{method} {path} does not document {code}");
        }
    }
}

#[test]
fn signing_in_is_documented_and_public_operations_say_so() {
    let doc = serde_json::to_value(latchkey_http::openapi()).unwrap();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "latchkey_session");
    for (method, path, op) in operations(&doc) {
        let public = op["security"] == serde_json::json!([{}]);
        let needs_no_sign_in = [
            "/api/v1/auth/login",
            "/api/v1/lockouts",
            "/api/v1/lockouts/lookup",
            "/api/v1/lockouts/proofs/totp",
            "/api/v1/lockouts/proofs/recovery-code",
            "/api/v1/lockouts/guardians",
            "/api/v1/lockouts/presence",
            "/api/v1/lockouts/new-pin",
            "/api/v1/lockouts/new-pin/collect",
            "/api/v1/locksmith-jobs/code",
        ]
        .contains(&path.as_str());
        assert_eq!(
            public, needs_no_sign_in,
            "{method} {path}: public in the document but not in the code, or the other way"
        );
    }
}

#[test]
fn query_parameters_are_documented_in_the_query_and_optional() {
    let doc = serde_json::to_value(latchkey_http::openapi()).unwrap();
    let events = &doc["paths"]["/api/v1/events"]["get"]["parameters"];
    let limit = events
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["required"], false);
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 500);
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().cloned().unwrap_or_default() {
            if p["in"] == "path" {
                let name = p["name"].as_str().unwrap();
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: `{name}` is documented in the path but is not in it"
                );
            }
        }
    }
}

#[test]
fn request_bodies_name_their_fields_and_which_are_required() {
    let doc = serde_json::to_value(latchkey_http::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (method, path, op) in operations(&doc) {
        let Some(body) = op.get("requestBody") else {
            continue;
        };
        // A file body (the building import's CSV) has no fields to name.
        let Some(json) = body["content"].get("application/json") else {
            continue;
        };
        let schema = &json["schema"];
        let schema = match schema["$ref"].as_str() {
            Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
            None => schema,
        };
        assert!(
            schema["properties"].is_object(),
            "{method} {path}: the request body is documented without its fields"
        );
        assert_eq!(
            schema["additionalProperties"], false,
            "{method} {path}: unknown fields are refused, so the document must say so"
        );
    }
    let credential = &schemas["CredentialBody"];
    assert_eq!(
        credential["required"],
        serde_json::json!(["person_id", "kind"])
    );
}
