//! The audit log: append inside the caller's transaction, filtered reading with cursor paging,
//! and verification that names the first tampered event exactly — on every backend. The chain is
//! keyed: event 1 of a new log is the keying marker, and a rewrite needs the key.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::chain::{self, BreakKind, ChainKey, EventBody, Hash};
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

/// The chain key of these tests (a real one is derived from the master key).
fn key() -> ChainKey {
    ChainKey::new(&[42; 32])
}

async fn append_committed(store: &Store, at: Timestamp, events: &[NewEvent]) -> i64 {
    let mut tx: WriteTx = store.write().await.expect("begin");
    let last = audit::append(&mut tx, &key(), at, events)
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    last
}

/// A log of `n` events, one per append, one second apart: the keying marker, then events
/// 2..=n.
async fn seeded(store: &Store, n: i64) {
    append_committed(store, second(0), &[]).await;
    for i in 2..=n {
        append_committed(store, second(i), &[event(i)]).await;
    }
}

async fn verify(store: &Store) -> audit::VerifyOutcome {
    audit::verify(store, &key(), |_| {})
        .await
        .expect("the log can be read")
}

async fn exec(store: &Store, sql: &str) {
    let mut conn = store.read().await.expect("conn");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("tamper with `{sql}`: {e}"));
}

/// Asserts the first break is `kind` at `seq`, and returns its sentence.
async fn expect_break(store: &Store, kind: BreakKind, seq: i64) -> String {
    match verify(store).await {
        Err(b) => {
            assert_eq!(
                (b.kind, b.seq),
                (kind, seq),
                "expected {kind:?} at event {seq}, got: {b}"
            );
            b.to_string()
        }
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
        match verify(&store).await {
            Ok(s) => assert_eq!((s.events, s.last_seq, s.head), (0, 0, chain::GENESIS)),
            Err(b) => panic!("an empty log is intact, got {b}"),
        }
        assert_eq!(
            append_committed(&store, second(1), &[event(1), event(2), event(3)]).await,
            4,
            "the keying marker, then three events"
        );
        assert_eq!(
            append_committed(&store, second(2), &[event(4), event(5)]).await,
            6
        );
        assert_eq!(
            append_committed(&store, second(3), &[]).await,
            6,
            "nothing to append"
        );

        let mut progress = Vec::new();
        let summary = audit::verify(&store, &key(), |n| progress.push(n))
            .await
            .expect("verify")
            .expect("an untouched chain is intact");
        assert_eq!(summary.events, 6);
        assert_eq!(summary.last_seq, 6);
        let mut conn = store.read().await.expect("conn");
        let (head_seq, head_hash) = audit::read_head(&mut conn).await.expect("head");
        assert_eq!((head_seq, head_hash), (6, summary.head));
        assert_eq!(head_hash, stored_hash(&store, 6).await);
        assert_eq!(audit::count(&mut conn).await.expect("count"), 6);
        assert_eq!(progress.last(), Some(&6));
        let first = &audit::stored_after(&mut conn, 0, 1).await.expect("read")[0];
        assert_eq!(
            (first.seq, first.kind.as_str()),
            (1, chain::DIGEST_MARKER),
            "a new log starts with its marker, keyed and over payload digests"
        );
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
                &key(),
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
        let summary = verify(&store).await.expect("intact");
        assert_eq!(summary.events, 2);
        assert_eq!(
            append_committed(&store, second(11), &[event(3)]).await,
            3,
            "seq 3 is reused"
        );
    })
    .await;
}

/// The keying marker (seq 1, no property, no actor), then 25 events numbered 1..=25 (seq 2..=26):
/// odd ones at property 1, even at 2; kinds cycle through three; actors 7 and 8.
async fn filter_fixture(store: &Store) {
    append_committed(store, second(0), &[]).await;
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

/// The fixture's numbers of `events` (the keying marker is 0).
fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq - 1).collect()
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
        assert_eq!(sizes, vec![10, 10, 6]);
        assert_eq!(
            seen,
            (0..=25).rev().collect::<Vec<_>>(),
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
                before: Some(21),
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
                before: Some(3),
                ..EventFilter::default()
            },
        )
        .await[0];
        assert_eq!(first.seq, 2);
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
        let said = expect_break(&store, BreakKind::Edited, 4).await;
        assert!(said.starts_with("event 4 was changed: "), "{said}");
    })
    .await;
}

#[tokio::test]
async fn deleting_a_middle_event_is_reported_as_a_deletion_of_that_event() {
    latchkey_testkit::each_backend("tamper_delete_middle", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(&store, "DELETE FROM events WHERE seq = 6").await;
        let said = expect_break(&store, BreakKind::Deleted, 6).await;
        assert!(said.starts_with("event 6 is missing: "), "{said}");
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
        let said = expect_break(&store, BreakKind::Inserted, k + 1).await;
        assert!(said.starts_with("event 6 was inserted: "), "{said}");
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
        let said = expect_break(&store, BreakKind::Reordered, 3).await;
        assert!(said.starts_with("event 3 is out of order: "), "{said}");
    })
    .await;
}

/// Rewrites events `from..` as someone with the database but without the key would: new data,
/// each hash recomputed with plain SHA-256 and linked to the one before, and the head moved to
/// the new last hash.
async fn rewrite_without_the_key(store: &Store, from: i64) {
    let mut conn = store.read().await.expect("conn");
    let rows = audit::stored_after(&mut conn, from - 2, 1_000_000)
        .await
        .expect("rows");
    let mut prev: Hash = rows[0].hash.as_slice().try_into().expect("hash");
    for row in &rows[1..] {
        let data = r#"{"n":0}"#;
        let body = EventBody { data, ..row.body() };
        let hash = chain::hash_event(&prev, &body);
        sqlx::query("UPDATE events SET data = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(data)
            .bind(prev.to_vec())
            .bind(hash.to_vec())
            .bind(row.seq)
            .execute(&mut *conn)
            .await
            .expect("rewrite a row");
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(prev.to_vec())
        .execute(&mut *conn)
        .await
        .expect("move the head");
}

#[tokio::test]
async fn a_tail_rewritten_without_the_key_does_not_verify() {
    latchkey_testkit::each_backend("rewrite_without_key", |db| async move {
        let store = db.open().await;
        let evs: Vec<NewEvent> = (1..=399).map(event).collect();
        append_committed(&store, second(1), &evs).await;
        rewrite_without_the_key(&store, 300).await;
        let said = expect_break(&store, BreakKind::Edited, 300).await;
        assert_eq!(
            said,
            "event 300 was changed: its contents no longer match its hash"
        );
    })
    .await;
}

#[tokio::test]
async fn a_log_checked_with_another_master_key_fails_where_its_keyed_chain_starts() {
    latchkey_testkit::each_backend("wrong_key", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        let other = ChainKey::new(&[43; 32]);
        let brk = audit::verify(&store, &other, |_| {})
            .await
            .expect("the log can be read")
            .expect_err("another key must not verify");
        assert_eq!((brk.kind, brk.seq), (BreakKind::Edited, 1), "{brk}");
        assert!(
            brk.to_string()
                .contains("does not verify with this master key"),
            "{brk}"
        );
        assert!(verify(&store).await.is_ok(), "the right key still verifies");
    })
    .await;
}

#[tokio::test]
async fn an_emptied_log_names_the_head_it_lost() {
    latchkey_testkit::each_backend("emptied", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(&store, "DELETE FROM events").await;
        let said = expect_break(&store, BreakKind::Deleted, 1).await;
        assert_eq!(
            said,
            "event 1 is missing: the log is empty but the head says 10"
        );
    })
    .await;
}

#[tokio::test]
async fn a_deleted_head_row_is_named_and_nothing_can_be_appended_behind_it() {
    latchkey_testkit::each_backend("head_deleted", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(&store, "DELETE FROM audit_head").await;
        let brk = verify(&store).await.expect_err("no head");
        assert_eq!(brk.kind, BreakKind::Head);
        assert_eq!(
            brk.to_string(),
            "the chain head is missing: its row was deleted from the database, and the log \
             holds 10 events"
        );
        let mut tx = store.write().await.expect("begin");
        let err = audit::append(&mut tx, &key(), second(20), &[event(11)])
            .await
            .expect_err("no append without a head");
        assert!(
            err.to_string()
                .contains("the audit chain head row is missing"),
            "{err}"
        );
        drop(tx);
        let mut conn = store.read().await.expect("conn");
        assert_eq!(audit::count(&mut conn).await.expect("count"), 10);
    })
    .await;
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `n` events as a latchkey from before the keyed chain did: plain SHA-256 links, and
/// the head moved to the last one.
async fn legacy_log(store: &Store, n: i64) {
    old_log(store, n, false).await;
}

/// A log of `n` events as a version with the keyed chain but before payload digests wrote it:
/// the keying marker at event 1, every link keyed over the payload itself.
async fn keyed_legacy_log(store: &Store, n: i64) {
    old_log(store, n, true).await;
}

async fn old_log(store: &Store, n: i64, keyed: bool) {
    let mut conn = store.read().await.expect("conn");
    let mut prev = chain::GENESIS;
    for seq in 1..=n {
        let data = format!(r#"{{"n":{seq}}}"#);
        let body = EventBody {
            seq,
            at_micros: second(seq).as_microsecond(),
            property: Some(1),
            actor: if keyed { Some(7) } else { None },
            kind: if keyed && seq == 1 {
                chain::KEYED_MARKER
            } else {
                "test.event"
            },
            subject: "thing:1",
            data: &data,
        };
        let hash = if keyed {
            chain::hash_event_keyed(&key(), &prev, &body)
        } else {
            chain::hash_event(&prev, &body)
        };
        sqlx::query(
            "INSERT INTO events (seq, at, property_id, actor_id, kind, subject, data, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(body.at_micros)
        .bind(body.property)
        .bind(body.actor)
        .bind(body.kind)
        .bind(body.subject)
        .bind(data.as_str())
        .bind(prev.to_vec())
        .bind(hash.to_vec())
        .execute(&mut *conn)
        .await
        .expect("write an old event");
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(n)
        .bind(prev.to_vec())
        .execute(&mut *conn)
        .await
        .expect("move the head");
}

#[tokio::test]
async fn an_old_unkeyed_log_is_keyed_by_its_next_append_and_cannot_be_unkeyed_again() {
    latchkey_testkit::each_backend("upgrade", |db| async move {
        let store = db.open().await;
        legacy_log(&store, 8).await;
        let said = expect_break(&store, BreakKind::Unkeyed, 1).await;
        assert!(
            said.starts_with("event 1 is not keyed: the log holds 8 events"),
            "{said}"
        );

        assert_eq!(append_committed(&store, second(20), &[]).await, 9);
        assert_eq!(append_committed(&store, second(21), &[event(10)]).await, 10);
        let summary = verify(&store)
            .await
            .expect("old events unkeyed, new ones keyed");
        assert_eq!(summary.events, 10);
        let mut conn = store.read().await.expect("conn");
        let marker = &audit::stored_after(&mut conn, 8, 1).await.expect("read")[0];
        assert_eq!(marker.kind, chain::DIGEST_MARKER);
        assert_eq!(
            marker.data,
            format!(
                r#"{{"events_before":8,"head_before":"{}"}}"#,
                to_hex(&stored_hash(&store, 8).await)
            )
        );
        drop(conn);

        // Turning the marker into an ordinary event, to rewrite from event 9 on without the key,
        // is seen: the marker's hash is keyed.
        exec(
            &store,
            "UPDATE events SET kind = 'test.event' WHERE seq = 9",
        )
        .await;
        let said = expect_break(&store, BreakKind::Edited, 9).await;
        assert!(said.starts_with("event 9 was changed"), "{said}");
        exec(
            &store,
            "UPDATE events SET kind = 'audit.chain_digested' WHERE seq = 9",
        )
        .await;

        // Removing the keyed part and the marker leaves an unkeyed log, which does not verify.
        exec(&store, "DELETE FROM events WHERE seq >= 9").await;
        let eighth = stored_hash(&store, 8).await;
        let mut conn = store.read().await.expect("conn");
        sqlx::query("UPDATE audit_head SET seq = 8, hash = $1 WHERE id = 1")
            .bind(eighth.to_vec())
            .execute(&mut *conn)
            .await
            .expect("move the head back");
        drop(conn);
        expect_break(&store, BreakKind::Unkeyed, 1).await;
    })
    .await;
}

#[tokio::test]
async fn a_second_keying_marker_is_named() {
    latchkey_testkit::each_backend("second_marker", |db| async move {
        let store = db.open().await;
        seeded(&store, 10).await;
        exec(
            &store,
            "UPDATE events SET kind = 'audit.chain_keyed' WHERE seq = 5",
        )
        .await;
        let said = expect_break(&store, BreakKind::Edited, 5).await;
        assert!(said.contains("claims to start the keyed chain"), "{said}");
        let mut tx = store.write().await.expect("begin");
        let err = audit::append(
            &mut tx,
            &key(),
            second(30),
            &[NewEvent::new(chain::KEYED_MARKER, "audit:chain")],
        )
        .await
        .expect_err("callers cannot write the marker");
        assert!(
            err.to_string().contains("written by the audit log itself"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_keyed_log_gains_payload_digests_at_its_next_append_and_only_newer_events_are_redacted() {
    latchkey_testkit::each_backend("digest_upgrade", |db| async move {
        let store = db.open().await;
        keyed_legacy_log(&store, 8).await;
        assert_eq!(verify(&store).await.expect("an old keyed log").events, 8);
        assert_eq!(append_committed(&store, second(20), &[event(10)]).await, 10);
        let mut conn = store.read().await.expect("conn");
        let marker = &audit::stored_after(&mut conn, 8, 1).await.expect("read")[0];
        assert_eq!(marker.kind, chain::DIGEST_MARKER);
        drop(conn);
        assert_eq!(verify(&store).await.expect("three encodings").events, 10);

        // Redacting everything redacts only event 10: older links cover their payloads.
        let mut tx = store.write().await.expect("begin");
        let done = audit::redact(&mut tx, &key(), &audit::Redaction::default(), 100)
            .await
            .expect("redact");
        tx.commit().await.expect("commit");
        assert_eq!(done, vec![10]);
        let mut conn = store.read().await.expect("conn");
        let redacted = &audit::stored_after(&mut conn, 9, 1).await.expect("read")[0];
        assert_eq!(redacted.actor, None);
        assert!(
            redacted.data.starts_with(r#"{"redacted":""#),
            "{}",
            redacted.data
        );
        drop(conn);
        assert_eq!(
            verify(&store).await.expect("a redaction verifies").events,
            10
        );

        // Editing an old payload, or a redacted one, is still an edit.
        exec(
            &store,
            r#"UPDATE events SET data = '{"n":99}' WHERE seq = 5"#,
        )
        .await;
        expect_break(&store, BreakKind::Edited, 5).await;
    })
    .await;
}

/// Each process keeps the head it last wrote instead of reading it (decision 95). Two stores
/// on one database stand for two processes appending in turn, a rolled-back append moves the
/// head nowhere, and a head rewritten under both (a restore) is followed: the chain always
/// continues from the stored head, with no gap and no fork.
#[tokio::test]
async fn appends_continue_from_the_stored_head_whoever_wrote_last() {
    latchkey_testkit::each_backend("audit_two_writers", |db| async move {
        let a = db.open().await;
        let b = db.open().await;
        append_committed(&a, second(0), &[]).await;
        let mut expected = 1;
        for i in 0..6 {
            let store = if i % 3 == 0 { &b } else { &a };
            let last = append_committed(store, second(i + 1), &[event(i), event(i + 100)]).await;
            expected += 2;
            assert_eq!(last, expected, "append {i} follows the stored head");
        }
        // A transaction that appends and rolls back leaves the head where it was.
        let mut tx = a.write().await.expect("begin");
        audit::append(&mut tx, &key(), second(10), &[event(50)])
            .await
            .expect("append");
        drop(tx);
        let last = append_committed(&a, second(11), &[event(51)]).await;
        assert_eq!(last, expected + 1, "the rolled-back event took no number");
        let last = append_committed(&b, second(12), &[event(52)]).await;
        assert_eq!(last, expected + 2);
        assert!(verify(&a).await.is_ok(), "{:?}", verify(&a).await);

        // Events and head put back to an earlier state under both writers, as a restore does.
        exec(&a, &format!("DELETE FROM events WHERE seq > {expected}")).await;
        let mut conn = a.read().await.expect("conn");
        let row = sqlx::query("SELECT hash FROM events WHERE seq = $1")
            .bind(expected)
            .fetch_one(&mut *conn)
            .await
            .expect("row");
        let hash: Vec<u8> = row.try_get(0).expect("hash");
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(expected)
            .bind(hash)
            .execute(&mut *conn)
            .await
            .expect("restore the head");
        drop(conn);
        let last = append_committed(&a, second(13), &[event(53)]).await;
        assert_eq!(last, expected + 1, "the append follows the restored head");
        assert!(verify(&b).await.is_ok(), "{:?}", verify(&b).await);
    })
    .await;
}
