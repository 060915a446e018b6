//! The statements that write a batch at once give what the one-row statements gave, on both
//! backends: device states (a new device gets its row, an unreported field keeps its value),
//! commands recorded together (each returned for the command it records), the commands a
//! batch's reports may answer, and commands ended together.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::model::{DoorKind, DoorMode, Policy};
use latchkey_core::schedule::Schedule;
use latchkey_core::{DoorId, PropertyId};
use latchkey_store::devices::{self, DeviceState, LockSettings, NewCommand};
use latchkey_store::property::{self, NewDoor, NewProperty};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_767_225_600 + s).expect("an instant")
}

async fn doors(conn: &mut latchkey_store::Conn, n: usize) -> (PropertyId, Vec<DoorId>) {
    let p = property::create_property(
        conn,
        &NewProperty {
            name: "Here".into(),
            address: String::new(),
            timezone: "Europe/Berlin".into(),
            policy: Policy::default(),
            office_hours: Schedule::Always,
        },
        at(0),
    )
    .await
    .expect("property");
    let mut out = Vec::new();
    for i in 0..n {
        let d = property::create_door(
            conn,
            &NewDoor {
                property_id: p.id,
                unit_id: None,
                name: format!("Door {i}"),
                kind: DoorKind::BuildingEntrance,
                mode: DoorMode::Normal,
                pin_slots: 30,
            },
        )
        .await
        .expect("door");
        out.push(d.id);
    }
    (p.id, out)
}

#[tokio::test]
async fn device_states_of_a_batch_are_written_as_one_by_one() {
    latchkey_testkit::each_backend("device_states_batch", |db| async move {
        let store = db.open().await;
        let mut tx = store.write().await.expect("tx");
        let known = DeviceState {
            availability: Some("online".into()),
            lock_state: Some("locked".into()),
            door_state: Some("closed".into()),
            battery: Some(80),
            linkquality: Some(120),
            left_network: None,
            reported: LockSettings {
                auto_relock_seconds: Some(30),
                wrong_code_limit: Some(5),
                keypad_disable_seconds: Some(60),
            },
        };
        devices::update_state(tx.conn(), "known", &known, at(1))
            .await
            .expect("one row");
        let batch = vec![
            (
                "known".to_owned(),
                DeviceState {
                    lock_state: Some("unlocked".into()),
                    battery: Some(79),
                    ..DeviceState::default()
                },
            ),
            (
                "new".to_owned(),
                DeviceState {
                    lock_state: Some("locked".into()),
                    reported: LockSettings {
                        wrong_code_limit: Some(3),
                        ..LockSettings::default()
                    },
                    ..DeviceState::default()
                },
            ),
        ];
        devices::update_states(tx.conn(), &batch, at(2))
            .await
            .expect("batch");
        devices::update_states(tx.conn(), &[], at(3))
            .await
            .expect("an empty batch writes nothing");
        tx.commit().await.expect("commit");

        let mut conn = store.read().await.expect("conn");
        let k = devices::get_device(&mut conn, "known")
            .await
            .expect("read")
            .expect("known");
        assert_eq!(k.lock_state, "unlocked", "a reported field is written");
        assert_eq!(k.battery, Some(79));
        assert_eq!(
            k.availability, "online",
            "an unreported field keeps its value"
        );
        assert_eq!(k.door_state, "closed");
        assert_eq!(k.linkquality, Some(120));
        assert_eq!(k.reported.auto_relock_seconds, Some(30));
        assert_eq!(k.reported.wrong_code_limit, Some(5));
        assert_eq!(k.last_seen, Some(at(2)));
        assert_eq!(k.first_seen, at(1), "first seen stays");
        let n = devices::get_device(&mut conn, "new")
            .await
            .expect("read")
            .expect("a device heard first in a batch gets its row");
        assert_eq!(n.lock_state, "locked");
        assert_eq!(n.availability, "unknown", "the column's default");
        assert_eq!(n.door_state, "unknown");
        assert_eq!(n.battery, None);
        assert_eq!(n.reported.wrong_code_limit, Some(3));
        assert_eq!(n.reported.auto_relock_seconds, None);
        assert!(!n.left_network);
        assert_eq!((n.first_seen, n.last_seen), (at(2), Some(at(2))));
    })
    .await;
}

#[tokio::test]
async fn commands_recorded_together_answer_and_end_as_one_by_one() {
    latchkey_testkit::each_backend("commands_batch", |db| async move {
        let store = db.open().await;
        let mut tx = store.write().await.expect("tx");
        let (_, d) = doors(tx.conn(), 3).await;
        let mut people = Vec::new();
        for name in ["Ada", "Bo"] {
            let p = latchkey_store::people::create_person(
                tx.conn(),
                &latchkey_store::people::NewPerson {
                    name: name.into(),
                    email: None,
                    phone: None,
                    password_hash: None,
                    is_admin: false,
                },
                at(0),
            )
            .await
            .expect("person");
            people.push(p.id);
        }
        let deadline = at(100);
        // Two commands identical but for their place in the batch, and others around them.
        let new = [
            (d[0], "unlock", Some(people[0]), at(10)),
            (d[1], "lock", None, at(10)),
            (d[0], "unlock", Some(people[0]), at(10)),
            (d[2], "lock", Some(people[1]), at(11)),
        ];
        let rows: Vec<NewCommand<'_>> = new
            .iter()
            .map(|(door, action, by, t)| NewCommand {
                door: *door,
                action,
                by: *by,
                at: *t,
                deadline,
            })
            .collect();
        let made = devices::create_commands(tx.conn(), &rows)
            .await
            .expect("batch");
        assert_eq!(made.len(), new.len());
        for (m, (door, action, by, t)) in made.iter().zip(&new) {
            assert_eq!(
                (m.door_id, m.action.as_str(), m.requested_by, m.requested_at),
                (*door, *action, *by, *t),
                "each command comes back in the place it was given"
            );
            assert_eq!(m.status, "sent");
            assert_eq!(m.deadline_at, deadline);
        }
        let mut ids: Vec<i64> = made.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), made.len(), "every command has its own id");
        assert!(
            made[0].id < made[2].id,
            "identical commands take ids in their order"
        );
        tx.commit().await.expect("commit");

        // What a batch of reports may answer is what each door's reports may answer.
        let mut conn = store.read().await.expect("conn");
        let now = at(20);
        let since = now - SignedDuration::from_secs(600);
        let all = devices::answerable_commands_of(&mut conn, &d, now, since)
            .await
            .expect("batch read");
        let mut one_by_one = Vec::new();
        for door in &d {
            one_by_one.extend(
                devices::answerable_commands(&mut conn, *door, now, since)
                    .await
                    .expect("read"),
            );
        }
        assert_eq!(all, one_by_one);
        assert_eq!(all.len(), 4);
        let before_any = devices::answerable_commands_of(&mut conn, &d, at(9), at(0))
            .await
            .expect("read");
        assert!(before_any.is_empty(), "nothing requested after the report");
        drop(conn);

        let mut tx = store.write().await.expect("tx");
        devices::set_commands_status(
            tx.conn(),
            &[made[0].id, made[2].id],
            "failed",
            Some(now),
            Some("jammed"),
        )
        .await
        .expect("end");
        devices::set_commands_status(tx.conn(), &[made[1].id], "confirmed", Some(now), None)
            .await
            .expect("end");
        // A command another transaction ended keeps its end.
        devices::set_commands_status(tx.conn(), &[made[1].id], "failed", Some(at(30)), Some("x"))
            .await
            .expect("end again");
        tx.commit().await.expect("commit");
        let mut conn = store.read().await.expect("conn");
        for (i, (status, detail)) in [
            ("failed", Some("jammed")),
            ("confirmed", None),
            ("failed", Some("jammed")),
            ("sent", None),
        ]
        .into_iter()
        .enumerate()
        {
            let c = devices::get_command(&mut conn, made[i].id)
                .await
                .expect("read")
                .expect("command");
            assert_eq!(c.status, status, "command {i}");
            assert_eq!(c.detail.as_deref(), detail, "command {i}");
            assert_eq!(c.completed_at, (status != "sent").then_some(now));
        }
        let left = devices::answerable_commands_of(&mut conn, &d, now, since)
            .await
            .expect("read");
        assert_eq!(
            left.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![made[3].id],
            "ended commands answer nothing more"
        );
    })
    .await;
}
