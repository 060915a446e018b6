//! A name must show something: names made only of invisible characters (spaces of every kind,
//! zero-width characters, bidirectional controls, other format characters, fillers) are refused
//! with a 422 naming the field on every path that sets a name, and nothing is written — on every
//! backend.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, fixture};
use latchkey_testkit::each_backend;
use serde_json::{Value, json};

/// Names a person would see as blank.
const INVISIBLE: [&str; 9] = [
    "\u{200B}",                                 // zero-width space
    "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}", // zero-width (non-)joiners, word joiner, BOM
    "\u{202E}\u{2066}\u{2069}\u{200F}",         // bidi override, isolates, right-to-left mark
    " \u{3000}\u{00A0}\u{2007}\t",              // ideographic, no-break and figure spaces
    "\u{3164}\u{115F}",                         // Hangul fillers
    "\u{00AD}\u{034F}",                         // soft hyphen, combining grapheme joiner
    "\u{FE0F}\u{180E}",                         // variation selector, Mongolian vowel separator
    "\u{E0041}\u{E0042}",                       // tag characters
    "\u{2800}\u{2061}",                         // braille blank, invisible function application
];

/// Every path that sets a name: (method, path, body with the name, the field the problem names).
fn routes(f: &Fixture, name: &str) -> Vec<(&'static str, String, Value, &'static str)> {
    let p = f.property;
    vec![
        (
            "POST",
            "/api/v1/properties".into(),
            json!({"name": name, "timezone": "Europe/Paris"}),
            "name",
        ),
        (
            "PATCH",
            format!("/api/v1/properties/{p}"),
            json!({"name": name}),
            "name",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/units"),
            json!({"label": name}),
            "label",
        ),
        (
            "PATCH",
            format!("/api/v1/units/{}", f.unit),
            json!({"label": name}),
            "label",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/door-groups"),
            json!({"name": name, "doors": [f.door]}),
            "name",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/doors"),
            json!({"name": name, "kind": "building_entrance"}),
            "name",
        ),
        (
            "PATCH",
            format!("/api/v1/doors/{}", f.door),
            json!({"name": name}),
            "name",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/sensors"),
            json!({"name": name, "kind": "window", "unit_id": f.unit}),
            "name",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/people"),
            json!({"name": name, "membership": {"role": "guest", "unit_id": f.unit}}),
            "name",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/people"),
            json!({"name": name, "membership": {"role": "resident", "unit_id": f.unit}}),
            "name",
        ),
        (
            "PATCH",
            format!("/api/v1/people/{}", f.household),
            json!({"name": name}),
            "name",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/credentials"),
            json!({"person_id": f.household, "kind": "phone_key", "unit_id": f.unit, "label": name}),
            "label",
        ),
        (
            "PATCH",
            format!("/api/v1/credentials/{}", f.credential),
            json!({"label": name}),
            "label",
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            json!({"name": name}),
            "name",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/locksmiths"),
            json!({"company": name, "licence": "LS-9", "phone": "+1 555 0199"}),
            "company",
        ),
        (
            "POST",
            format!("/api/v1/properties/{p}/locksmiths"),
            json!({"company": "Quick Keys", "licence": name, "phone": "+1 555 0199"}),
            "licence",
        ),
    ]
}

#[tokio::test]
async fn a_name_made_only_of_invisible_characters_is_refused_everywhere_and_nothing_is_written() {
    each_backend("invisible_names", |db| async move {
        let f = fixture(&db).await;
        for name in INVISIBLE {
            for (method, path, body, field) in routes(&f, name) {
                let before = f.event_count().await;
                let r = f.call("admin", method, &path, Some(body.to_string())).await;
                let what = format!("{method} {path} with {name:?}");
                assert_eq!(r.status.as_u16(), 422, "{what}: {}", r.json);
                assert_eq!(r.json["field"], field, "{what}: {}", r.json);
                assert!(
                    r.json["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("visible"),
                    "{what}: the problem says what is missing: {}",
                    r.json
                );
                assert_eq!(
                    f.event_count().await,
                    before,
                    "{what}: something was written"
                );
            }
        }
        let r = f
            .call(
                "admin",
                "GET",
                &format!("/api/v1/people/{}", f.household),
                None,
            )
            .await;
        assert_eq!(r.json["name"], "Hugo House", "the name is unchanged");
    })
    .await;
}

#[tokio::test]
async fn names_in_any_script_with_joiners_and_marks_are_kept() {
    each_backend("visible_names", |db| async move {
        let f = fixture(&db).await;
        for name in [
            "李小龙",
            "\u{200F}שרה לוי",
            "Zoë \u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}",
            "O\u{2019}Brien",
            "\u{0928}\u{093F}\u{0915}\u{093F}\u{0924}\u{093E}",
        ] {
            let r = f
                .call(
                    "admin",
                    "PATCH",
                    &format!("/api/v1/people/{}", f.household),
                    Some(json!({"name": name}).to_string()),
                )
                .await;
            assert_eq!(r.status.as_u16(), 200, "{name:?}: {}", r.json);
            assert_eq!(r.json["name"], name.trim());
        }
    })
    .await;
}
