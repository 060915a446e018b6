//! The audit log: append inside the caller's transaction, filtered reading with cursor paging,
//! and verification that names the first tampered event exactly — on every backend.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::chain::{self, BreakKind, EventBody, Hash};
use latchkey_core::model::Policy;
use latchkey_core::schedule::Schedule;
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::audit::{self, EventFilter, NewEvent};
use latchkey_store::property::{self, NewProperty};
use latchkey_store::records::Event;
use latchkey_store::{Store, WriteTx};
use serde_json::json;
use sqlx::Row;

fn base() -> Timestamp {
    Timestamp::from_second(1_767_225_600).expect("valid instant")
}

fn second(n: i64) -> Timestamp {
    base() + SignedDuration::from_secs(n)
}

fn event(i: i64) -> NewEvent {
    NewEvent::new("test.event", format!("thing:{i}"))
        .property(PropertyId(1 + i % 2))
        .actor(Some(PersonId(100 + i % 3)))
        .data(json!({ "n": i }))
}

async fn append_committed(store: &Store, at: Timestamp, events: &[NewEvent]) -> i64 {
    let mut tx: WriteTx = store.write().await.expect("begin");
    let last = audit::append(&mut tx, at, events).await.expect("append");
    tx.commit().await.expect("commit");
    last
}

/// A log of `n` events, one per append, one second apart.
async fn seeded(store: &Store, n: i64) {
    for i in 1..=n {
        append_committed(store, second(i), &[event(i)]).await;
    }
}

async fn exec(store: &Store, sql: &str) {
    let mut conn = store.read().await.expect("conn");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("tamper with `{sql}`: {e}"));
}

async fn expect_break(store: &Store, kind: BreakKind, seq: i64) {
    match audit::verify(store, |_| {})
        .await
        .expect("the log can be read")
    {
        Err(b) => assert_eq!(
            (b.kind, b.seq),
            (kind, seq),
            "expected {kind:?} at event {seq}, got: {b}"
        ),
        Ok(summary) => {
            panic!("expected {kind:?} at event {seq}, but the chain verified: {summary:?}")
        }
    }
}

async fn stored_hash(store: &Store, seq: i64) -> Hash {
    let mut conn = store.read().await.expect("conn");
    let row = sqlx::query("SELECT hash FROM events WHERE seq = $1")
        .bind(seq)
        .fetch_one(&mut *conn)
        .await
        .expect("read hash");
    let bytes: Vec<u8> = row.try_get(0).expect("hash column");
    bytes.try_into().expect("32-byte hash")
}

#[tokio::test]
async fn appended_events_verify_with_the_right_count_and_head() {
    latchkey_testkit::each_backend("audit_verify", |db| async move {
        let store = db.open().await;
        match audit::verify(&store, |_| {}).await.expect("verify") {
            Ok(s) => assert_eq!((s.events, s.last_seq, s.head), (0, 0, chain::GENESIS)),
            Err(b) => panic!("an empty log is intact, got {b}"),
        }
        assert_eq!(
            append_committed(&store, second(1), &[event(1), event(2), event(3)]).await,
            3
        );
        assert_eq!(
            append_committed(&store, second(2), &[event(4), event(5)]).await,
            5
        );
        assert_eq!(
            append_committed(&store, second(3), &[]).await,
            5,
            "nothing to append"
        );

        let mut progress = Vec::new();
        let summary = audit::verify(&store, |n| progress.push(n))
            .await
            .expect("verify")
            .expect("an untouched chain is intact");
        assert_eq!(summary.events, 5);
        assert_eq!(summary.last_seq, 5);
        let mut conn = store.read().await.expect("conn");
        let (head_seq, head_hash) = audit::read_head(&mut conn).await.expect("head");
        assert_eq!((head_seq, head_hash), (5, summary.head));
        assert_eq!(head_hash, stored_hash(&store, 5).await);
        assert_eq!(audit::count(&mut conn).await.expect("count"), 5);
        assert_eq!(progress.last(), Some(&5));
    })
    .await;
}

#[tokio::test]
async fn a_change_whose_transaction_is_dropped_leaves_neither_the_change_nor_its_event() {
    latchkey_testkit::each_backend("audit_rollback", |db| async move {
        let store = db.open().await;
        seeded(&store, 2).await;
        {
            let mut tx = store.write().await.expect("begin");
            let p = property::create_property(
                tx.conn(),
                &NewProperty {
                    name: "Never Built".to_owned(),
                    address: String::new(),
                    timezone: "UTC".to_owned(),
                    policy: Policy::default(),
                    office_hours: Schedule::Always,
                },
                second(10),
            )
            .await
            .expect("create inside the transaction");
            let seq = audit::append(
                &mut tx,
                second(10),
                &[NewEvent::new("property.created", format!("property:{}", p.id)).property(p.id)],
            )
            .await
            .expect("append inside the transaction");
            assert_eq!(seq, 3);
            // Dropped here without commit.
        }
        let mut conn = store.read().await.expect("conn");
        assert!(
            property::list_properties(&mut conn)
                .await
                .expect("list")
                .is_empty()
        );
        assert_eq!(audit::count(&mut conn).await.expect("count"), 2);
        assert_eq!(audit::read_head(&mut conn).await.expect("head").0, 2);
        drop(conn);
        let summary = audit::verify(&store, |_| {})
            .await
            .expect("verify")
            .expect("intact");
        assert_eq!(summary.events, 2);
        assert_eq!(
            append_committed(&store, second(11), &[event(3)]).await,
            3,
            "seq 3 is reused"
        );
    })
    .await;
}

/// 25 events: odd ones at property 1, even at 2; kinds cycle through three; actors 7 and 8.
async fn filter_fixture(store: &Store) {
    for i in 1..=25_i64 {
        let kind = match i % 3 {
            0 => "door.created",
            1 => "door.updated",
            _ => "door_group.created",
        };
        let ev = NewEvent::new(kind, format!("door:{}", i % 5))
            .property(PropertyId(1 + (i + 1) % 2))
            .actor(Some(PersonId(if i <= 10 { 7 } else { 8 })))
            .data(json!({ "i": i }));
        append_committed(store, second(i), &[ev]).await;
    }
}

fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

async fn query(store: &Store, f: EventFilter) -> Vec<Event> {
    let mut conn = store.read().await.expect("conn");
    audit::query(&mut conn, &f).await.expect("query")
}

fn filter() -> EventFilter {
    EventFilter {
        limit: 100,
        ..EventFilter::default()
    }
}

#[tokio::test]
async fn paging_backwards_with_a_cursor_gives_ten_ten_and_five_without_overlap() {
    latchkey_testkit::each_backend("audit_paging", |db| async move {
        let store = db.open().await;
        filter_fixture(&store).await;
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut before = None;
        loop {
            let page = query(
                &store,
                EventFilter {
                    before,
                    limit: 10,
                    ..EventFilter::default()
                },
            )
            .await;
            if page.is_empty() {
                break;
            }
            sizes.push(page.len());
            assert!(page.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
            before = page.last().map(|e| e.seq);
            seen.extend(seqs(&page));
        }
        assert_eq!(sizes, vec![10, 10, 5]);
        assert_eq!(
            seen,
            (1..=25).rev().collect::<Vec<_>>(),
            "every event once, none twice"
        );
    })
    .await;
}

#[tokio::test]
async fn each_event_filter_keeps_exactly_the_matching_events() {
    latchkey_testkit::each_backend("audit_filters", |db| async move {
        let store = db.open().await;
        filter_fixture(&store).await;
        let all: Vec<i64> = (1..=25).rev().collect();
        let expect = |pred: &dyn Fn(i64) -> bool| -> Vec<i64> {
            all.iter().copied().filter(|i| pred(*i)).collect()
        };

        let at_1 = query(
            &store,
            EventFilter {
                properties: Some(vec![PropertyId(1)]),
                ..filter()
            },
        )
        .await;
        assert_eq!(seqs(&at_1), expect(&|i| i % 2 == 1));
        let both = query(
            &store,
            EventFilter {
                properties: Some(vec![PropertyId(1), PropertyId(2)]),
                ..filter()
            },
        )
        .await;
        assert_eq!(seqs(&both), all);
        let none = query(
            &store,
            EventFilter {
                properties: Some(vec![]),
                ..filter()
            },
        )
        .await;
        assert!(none.is_empty(), "an empty property list sees nothing");

        let doors = query(
            &store,
            EventFilter {
                kind_prefix: Some("door.".into()),
                ..filter()
            },
        )
        .await;
        assert_eq!(seqs(&doors), expect(&|i| i % 3 != 2));
        let literal = query(
            &store,
            EventFilter {
                kind_prefix: Some("door_".into()),
                ..filter()
            },
        )
        .await;
        assert_eq!(
            seqs(&literal),
            expect(&|i| i % 3 == 2),
            "`_` in a prefix is literal"
        );
        let pct = query(
            &store,
            EventFilter {
                kind_prefix: Some("door%".into()),
                ..filter()
            },
        )
        .await;
        assert!(pct.is_empty(), "`%` in a prefix is literal");

        let by_7 = query(
            &store,
            EventFilter {
                actor_id: Some(PersonId(7)),
                ..filter()
            },
        )
        .await;
        assert_eq!(seqs(&by_7), expect(&|i| i <= 10));

        let door_3 = query(
            &store,
            EventFilter {
                subject: Some("door:3".into()),
                ..filter()
            },
        )
        .await;
        assert_eq!(seqs(&door_3), expect(&|i| i % 5 == 3));

        let window = query(
            &store,
            EventFilter {
                since: Some(second(5)),
                until: Some(second(9)),
                ..filter()
            },
        )
        .await;
        assert_eq!(
            seqs(&window),
            vec![8, 7, 6, 5],
            "since is inclusive, until exclusive"
        );

        let visible = query(
            &store,
            EventFilter {
                visible_to: Some((PersonId(8), vec!["door:1".into(), "door:2".into()])),
                ..filter()
            },
        )
        .await;
        assert_eq!(
            seqs(&visible),
            expect(&|i| i > 10 || i % 5 == 1 || i % 5 == 2)
        );
        let own_only = query(
            &store,
            EventFilter {
                visible_to: Some((PersonId(7), vec![])),
                ..filter()
            },
        )
        .await;
        assert_eq!(seqs(&own_only), expect(&|i| i <= 10));

        let combined = query(
            &store,
            EventFilter {
                properties: Some(vec![PropertyId(2)]),
                kind_prefix: Some("door".into()),
                actor_id: Some(PersonId(8)),
                before: Some(20),
                limit: 3,
                ..EventFilter::default()
            },
        )
        .await;
        assert_eq!(seqs(&combined), vec![18, 16, 14]);

        let first = &query(
            &store,
            EventFilter {
                limit: 1,
                before: Some(2),
                ..EventFilter::default()
            },
        )
        .await[0];
        assert_eq!(first.seq, 1);
        assert_eq!(first.at, second(1));
        assert_eq!(first.property_id, Some(PropertyId(1)));
        assert_eq!(first.actor_id, Some(PersonId(7)));
        assert_eq!(first.kind, "door.updated");
        assert_eq!(first.subject, "door:1");
        assert_eq!(first.data, json!({ "i": 1 }));
    })
    .await;
}

#[tokio::test]
async fn editing_an_events_data_is_reported_as_an_edit_of_that_event() {
    latchkey_testkit::each_backend("tamper_edit", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(
            &store,
            r#"UPDATE events SET data = '{"n":999}' WHERE seq = 4"#,
        )
        .await;
        expect_break(&store, BreakKind::Edited, 4).await;
    })
    .await;
}

#[tokio::test]
async fn deleting_a_middle_event_is_reported_as_a_deletion_of_that_event() {
    latchkey_testkit::each_backend("tamper_delete_middle", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(&store, "DELETE FROM events WHERE seq = 6").await;
        expect_break(&store, BreakKind::Deleted, 6).await;
    })
    .await;
}

#[tokio::test]
async fn deleting_the_newest_event_is_caught_by_the_head() {
    latchkey_testkit::each_backend("tamper_delete_newest", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(&store, "DELETE FROM events WHERE seq = 10").await;
        expect_break(&store, BreakKind::Deleted, 10).await;
    })
    .await;
}

#[tokio::test]
async fn inserting_a_forged_event_by_renumbering_is_reported_as_an_insertion() {
    latchkey_testkit::each_backend("tamper_insert", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        let k = 5_i64;
        // Make room at k+1 through a temporary offset, so no two rows ever share a seq.
        exec(&store, "UPDATE events SET seq = seq + 1000000 WHERE seq > 5").await;
        exec(&store, "UPDATE events SET seq = seq - 999999 WHERE seq > 1000000").await;
        let prev = stored_hash(&store, k).await;
        let data = r#"{"forged":true}"#;
        let body = EventBody {
            seq: k + 1,
            at_micros: second(5).as_microsecond() + 1,
            property: Some(1),
            actor: Some(666),
            kind: "door.unlocked",
            subject: "door:1",
            data,
        };
        let hash = chain::hash_event(&prev, &body);
        let mut conn = store.read().await.expect("conn");
        sqlx::query(
            "INSERT INTO events (seq, at, property_id, actor_id, kind, subject, data, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(body.seq)
        .bind(body.at_micros)
        .bind(body.property)
        .bind(body.actor)
        .bind(body.kind)
        .bind(body.subject)
        .bind(data)
        .bind(prev.to_vec())
        .bind(hash.to_vec())
        .execute(&mut *conn)
        .await
        .expect("insert the forged event");
        drop(conn);
        expect_break(&store, BreakKind::Inserted, k + 1).await;
    })
    .await;
}

#[tokio::test]
async fn swapping_two_events_is_reported_as_a_reordering() {
    latchkey_testkit::each_backend("tamper_swap", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(&store, "UPDATE events SET seq = -1 WHERE seq = 3").await;
        exec(&store, "UPDATE events SET seq = 3 WHERE seq = 4").await;
        exec(&store, "UPDATE events SET seq = 4 WHERE seq = -1").await;
        expect_break(&store, BreakKind::Reordered, 3).await;
    })
    .await;
}
