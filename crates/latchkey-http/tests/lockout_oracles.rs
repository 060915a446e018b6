//! Over HTTP, on every backend: a stranger who names the resident of unit 1A and one who names
//! nobody get the same status and the same body, byte for byte once instants and the digits of
//! a code are set aside, at every step a case token allows before proof.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;

/// Replaces what differs between any two cases whatever they are about: instants, and the
/// digits of a presence code (its length stays).
fn normalised(v: &Value) -> String {
    fn walk(v: &Value, key: &str) -> Value {
        match v {
            Value::String(s) if s.parse::<jiff::Timestamp>().is_ok() => "<instant>".into(),
            Value::String(s) if key == "code" => s
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect::<String>()
                .into(),
            Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), walk(v, k))).collect(),
            Value::Array(a) => a.iter().map(|v| walk(v, key)).collect(),
            other => other.clone(),
        }
    }
    walk(v, "").to_string()
}

/// Each answer a stranger gets after opening a case for `identity` in unit 1A: status and body.
async fn walk_through(f: &common::Fixture, identity: &str) -> Vec<String> {
    let started = f
        .call(
            "anon",
            "POST",
            "/api/v1/lockouts",
            Some(format!(
                r#"{{"property_id":{},"unit":"1A","identity":"{identity}"}}"#,
                f.property
            )),
        )
        .await;
    assert_eq!(started.status, 202);
    let token = started.json["token"]
        .as_str()
        .expect("a case token")
        .to_owned();
    let with_token = Some(format!(r#"{{"token":"{token}"}}"#));
    let mut seen = Vec::new();
    for (path, body) in [
        ("/api/v1/lockouts/lookup", with_token.clone()),
        ("/api/v1/lockouts/presence", with_token.clone()),
        ("/api/v1/lockouts/lookup", with_token.clone()),
        ("/api/v1/lockouts/guardians", with_token.clone()),
        ("/api/v1/lockouts/lookup", with_token.clone()),
        (
            "/api/v1/lockouts/proofs/totp",
            Some(format!(r#"{{"token":"{token}","code":"000000"}}"#)),
        ),
        ("/api/v1/lockouts/lookup", with_token.clone()),
        ("/api/v1/lockouts/new-pin", with_token.clone()),
    ] {
        let r = f.call("anon", "POST", path, body).await;
        seen.push(format!("{path} {} {}", r.status, normalised(&r.json)));
    }
    seen
}

#[tokio::test]
async fn a_resident_and_a_made_up_name_get_the_same_status_and_body_at_every_step() {
    latchkey_testkit::each_backend("http_oracle_steps", |db| async move {
        let f = common::fixture(&db).await;
        let real = walk_through(&f, "Rita Resident").await;
        let made_up = walk_through(&f, "Nobody Here").await;
        for (r, m) in real.iter().zip(&made_up) {
            assert_eq!(r, m, "the answers differ");
        }
        assert!(
            real[2].contains("presence_challenge"),
            "the presence step shows: {}",
            real[2]
        );
    })
    .await;
}
