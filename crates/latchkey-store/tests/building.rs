//! The building page's one read gives, per door, exactly what the separate reads gave: the door,
//! its unit, its lock's last report and its slots counted by status, on both backends.

use jiff::Timestamp;
use latchkey_core::model::{DoorKind, DoorMode, Policy};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PropertyId};
use latchkey_store::building::{building_doors, building_doors_among, building_glance};
use latchkey_store::devices::{self, Desired, DeviceState, Slot, SlotStatus};
use latchkey_store::property::{self, NewDoor, NewProperty};

fn new_door(p: PropertyId, unit: Option<latchkey_core::UnitId>, name: &str) -> NewDoor {
    NewDoor {
        property_id: p,
        unit_id: unit,
        name: name.to_owned(),
        kind: if unit.is_some() {
            DoorKind::UnitEntry
        } else {
            DoorKind::BuildingEntrance
        },
        mode: DoorMode::Normal,
        pin_slots: 30,
    }
}

fn slot(door: DoorId, n: i64, status: SlotStatus) -> Slot {
    Slot {
        door_id: door,
        slot: n,
        credential_id: None,
        desired: Desired::Empty,
        status,
        reason: None,
        attempts: 0,
        next_attempt_at: None,
        updated_at: Timestamp::from_second(1_767_225_600).expect("an instant"),
    }
}

#[tokio::test]
async fn every_door_comes_with_its_unit_its_locks_report_and_its_slot_counts() {
    latchkey_testkit::each_backend("building_page_read", |db| async move {
        let store = db.open().await;
        let now = Timestamp::from_second(1_767_225_600).expect("an instant");
        let mut tx = store.write().await.expect("tx");
        let mk = |name: &str| NewProperty {
            name: name.to_owned(),
            address: String::new(),
            timezone: "Europe/Berlin".to_owned(),
            policy: Policy::default(),
            office_hours: Schedule::Always,
        };
        let p = property::create_property(tx.conn(), &mk("Here"), now)
            .await
            .expect("p");
        let other = property::create_property(tx.conn(), &mk("There"), now)
            .await
            .expect("o");
        let unit = property::create_unit(tx.conn(), p.id, "4C", 4, None)
            .await
            .expect("unit");
        let mut entry =
            property::create_door(tx.conn(), &new_door(p.id, Some(unit.id), "4C entry"))
                .await
                .expect("door");
        entry.lock_name = Some("here/4c".into());
        property::update_door(tx.conn(), &entry)
            .await
            .expect("pair");
        let mut lobby = property::create_door(tx.conn(), &new_door(p.id, None, "Lobby"))
            .await
            .expect("door");
        // Paired, but the lock has never reported.
        lobby.lock_name = Some("here/lobby".into());
        property::update_door(tx.conn(), &lobby)
            .await
            .expect("pair");
        let bare = property::create_door(tx.conn(), &new_door(p.id, None, "Bike room"))
            .await
            .expect("door");
        let elsewhere = property::create_door(tx.conn(), &new_door(other.id, None, "Their gate"))
            .await
            .expect("door");
        let state = DeviceState {
            availability: Some("offline".into()),
            lock_state: Some("unlocked".into()),
            door_state: Some("open".into()),
            battery: Some(8),
            ..DeviceState::default()
        };
        devices::update_state(tx.conn(), "here/4c", &state, now)
            .await
            .expect("state");
        use SlotStatus::*;
        let statuses = [
            Set, Set, Pending, Probing, Removing, Failed, Unmanaged, Removed, Assumed, Assumed,
        ];
        let slots: Vec<Slot> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| slot(entry.id, i as i64, *s))
            .chain([slot(elsewhere.id, 0, Failed)])
            .collect();
        devices::save_slots(tx.conn(), &slots).await.expect("slots");
        tx.commit().await.expect("commit");

        let mut conn = store.read().await.expect("conn");
        let doors = building_doors(&mut conn, p.id).await.expect("read");
        let ids: Vec<DoorId> = doors.iter().map(|d| d.door.id).collect();
        assert_eq!(
            ids,
            vec![entry.id, lobby.id, bare.id],
            "this property's doors, in id order"
        );
        let e = &doors[0];
        assert_eq!(e.door, entry);
        assert_eq!(e.unit, Some(("4C".to_owned(), 4)));
        assert_eq!(e.availability.as_deref(), Some("offline"));
        assert_eq!(e.lock_state.as_deref(), Some("unlocked"));
        assert_eq!(e.door_state.as_deref(), Some("open"));
        assert_eq!(e.battery, Some(8));
        assert_eq!(
            e.slots,
            [2, 3, 1, 1, 2],
            "set; pending, probing, removing; failed; unmanaged; assumed"
        );
        let l = &doors[1];
        assert_eq!(l.door, lobby);
        assert_eq!(
            (l.unit.clone(), l.availability.clone(), l.battery),
            (None, None, None)
        );
        assert_eq!(l.slots, [0, 0, 0, 0, 0]);
        assert_eq!(doors[2].door, bare);
        assert_eq!(doors[2].door.lock_name, None);

        let none = building_doors(&mut conn, PropertyId(999_999))
            .await
            .expect("read");
        assert!(none.is_empty(), "a property without doors has none");

        // The glance: every door, where it is, what its lock said, whether a code is in trouble.
        let glance = building_glance(&mut conn, p.id).await.expect("glance");
        let ids: Vec<DoorId> = glance.iter().map(|g| g.id).collect();
        assert_eq!(ids, vec![entry.id, lobby.id, bare.id]);
        let g = &glance[0];
        assert_eq!(
            (g.floor, g.kind, g.paired, g.battery, g.codes_in_trouble),
            (Some(4), DoorKind::UnitEntry, true, Some(8), true)
        );
        assert_eq!(
            (
                g.availability.as_deref(),
                g.lock_state.as_deref(),
                g.door_state.as_deref()
            ),
            (Some("offline"), Some("unlocked"), Some("open"))
        );
        let l = &glance[1];
        assert_eq!(
            (
                l.floor,
                l.paired,
                l.availability.clone(),
                l.codes_in_trouble
            ),
            (None, true, None, false)
        );
        assert!(!glance[2].paired);
        // Chosen doors: only those, and only this property's, with the same counts.
        let some = building_doors_among(&mut conn, p.id, &[bare.id, entry.id, elsewhere.id])
            .await
            .expect("among");
        let ids: Vec<DoorId> = some.iter().map(|d| d.door.id).collect();
        assert_eq!(
            ids,
            vec![entry.id, bare.id],
            "another property's door is left out"
        );
        assert_eq!(some[0].slots, [2, 3, 1, 1, 2]);
        assert_eq!(some[0].door, entry);
        let none = building_doors_among(&mut conn, p.id, &[])
            .await
            .expect("among");
        assert!(none.is_empty());
        let empty = building_glance(&mut conn, PropertyId(999_999))
            .await
            .expect("glance");
        assert!(empty.is_empty());
    })
    .await;
}
