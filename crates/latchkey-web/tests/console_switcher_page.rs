//! The console for staff of several properties, driven in-process on every backend: a manager
//! of two properties gets a property switcher on every page, and the console's tabs keep the
//! property a page is about (its `?property=`, or its record's); a manager of one property gets
//! no switcher, and asking another property's console pages gets nothing from them, nor does
//! it point the tabs there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;

use axum::http::StatusCode;
use latchkey_core::PropertyId;
use latchkey_core::model::Role;
use latchkey_testkit::each_backend;

use console::*;

/// Every console tab's page.
const TABS: [&str; 11] = [
    "/building",
    "/alarms",
    "/console/cases",
    "/console/ledger",
    "/console/incidents",
    "/readiness",
    "/people",
    "/policy",
    "/devices",
    "/on-call",
    "/audit",
];

async fn other_house(w: &World) -> PropertyId {
    w.app
        .list_properties(&w.root)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "Other House")
        .unwrap()
        .id
}

/// Mona, Door House's manager, manages Other House too.
async fn mona_at_both(w: &World, other: PropertyId) {
    let mona = w
        .app
        .list_people(&w.root, w.property)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.name == "Mona Manager")
        .unwrap()
        .id;
    let m = latchkey_app::people::MembershipInput {
        role: Role::Manager,
        unit_id: None,
        valid_from: None,
        valid_until: None,
    };
    w.app
        .create_membership(
            w.app.may_create_membership(&w.root, other, &m).unwrap(),
            mona,
            m,
        )
        .await
        .unwrap();
}

/// The property every console tab of a page opens, when they all open the same one.
fn tabs_property(body: &str) -> Option<i64> {
    let nav = &body[body.find("aria-label=\"Building console\"")?..];
    let nav = &nav[..nav.find("</nav>").unwrap()];
    let mut ids: Vec<i64> = nav
        .split("?property=")
        .skip(1)
        .map(|rest| {
            rest[..rest.find('"').unwrap()]
                .parse()
                .expect("a property id")
        })
        .collect();
    assert_eq!(ids.len(), TABS.len(), "{nav}");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every tab opens one property: {nav}");
    Some(ids[0])
}

#[tokio::test]
async fn a_manager_of_two_properties_switches_and_the_tabs_keep_the_property() {
    each_backend("web_switcher", |db| async move {
        let w = world(&db).await;
        let other = other_house(&w).await;
        mona_at_both(&w, other).await;
        let mona = w.signed_in("mona@example.org").await;

        // Without a property asked for: the first, with the switcher offering both.
        let page = w.get("/building", &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(tabs_property(&page.body), Some(w.property.0));
        assert!(page.body.contains("id=\"console-property\""));
        assert!(
            page.body.contains(&format!(
                "<option value=\"{}\" selected>Door House</option>",
                w.property.0
            )),
            "{}",
            page.body
        );
        assert!(page.body.contains(&format!(
            "<option value=\"{}\">Other House</option>",
            other.0
        )));
        assert!(
            page.body
                .contains("action=\"/building\" class=\"switcher\"")
        );

        // Switched: every tab page of the other property, its tabs and switcher on it.
        for tab in TABS {
            let page = w.get(&format!("{tab}?property={}", other.0), &mona).await;
            if tab == "/devices" {
                // Devices are the installers' page, at either property.
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{tab}");
                continue;
            }
            assert_eq!(page.status, StatusCode::OK, "{tab}: {}", page.body);
            assert_eq!(tabs_property(&page.body), Some(other.0), "{tab}");
            assert!(
                page.body.contains(&format!(
                    "<option value=\"{}\" selected>Other House</option>",
                    other.0
                )),
                "{tab}"
            );
            // The switcher comes back to the same page.
            assert!(
                page.body
                    .contains(&format!("action=\"{tab}\" class=\"switcher\"")),
                "{tab}"
            );
        }
        // A record's page keeps its record's property, without a `?property=`.
        let gate = w.app.list_doors(&w.root, other).await.unwrap()[0].id;
        let page = w.get(&format!("/building/doors/{}", gate.0), &mona).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(tabs_property(&page.body), Some(other.0));
        // …and a record page's switcher goes to the building page.
        assert!(
            page.body
                .contains("action=\"/building\" class=\"switcher\"")
        );
        // Her own pages show the tabs of the first property.
        let page = w.get("/", &mona).await;
        assert_eq!(tabs_property(&page.body), Some(w.property.0));
    })
    .await;
}

#[tokio::test]
async fn a_manager_of_one_property_gets_no_switcher_and_nothing_of_another() {
    each_backend("web_switcher_refused", |db| async move {
        let w = world(&db).await;
        let other = other_house(&w).await;
        let otto = w.signed_in("otto@example.org").await;
        let page = w.get("/", &otto).await;
        assert_eq!(tabs_property(&page.body), Some(other.0));
        assert!(
            !page.body.contains("console-property"),
            "no switcher for one property"
        );
        for tab in TABS {
            let page = w
                .get(&format!("{tab}?property={}", w.property.0), &otto)
                .await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{tab}: {}",
                page.status
            );
            assert!(!page.body.contains("Door House"), "{tab}: {}", page.body);
            assert!(!page.body.contains("3B entry"), "{tab}");
            // No tab leads to the property he asked for.
            assert!(
                !page.body.contains(&format!("?property={}\"", w.property.0)),
                "{tab}"
            );
        }
        // A door of Door House's page: nothing, and the tabs are still his.
        let page = w
            .get(&format!("/building/doors/{}", w.lobby.0), &otto)
            .await;
        assert!(page.status.is_client_error());
        assert!(!page.body.contains("Lobby"));
        // Residents and guests get neither tabs nor a switcher.
        for who in ["vera@example.org", "gil@example.org"] {
            let cookie = w.signed_in(who).await;
            let page = w
                .get(&format!("/?property={}", w.property.0), &cookie)
                .await;
            assert_eq!(tabs_property(&page.body), None, "{who}");
            assert!(!page.body.contains("console-property"), "{who}");
        }
        // Mona, manager of Door House only: asking for Other House gets nothing from it.
        let mona = w.signed_in("mona@example.org").await;
        for tab in TABS {
            let page = w.get(&format!("{tab}?property={}", other.0), &mona).await;
            assert!(
                matches!(page.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{tab}: {}",
                page.status
            );
            assert!(!page.body.contains("Other House"), "{tab}");
            assert!(!page.body.contains("Otto"), "{tab}");
        }
    })
    .await;
}
