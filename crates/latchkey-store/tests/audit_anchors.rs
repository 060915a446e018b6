//! Anchors of the audit chain's head kept outside the database: a log rewritten with the key,
//! truncated below an anchor, or replaced by another database no longer holds what its anchors
//! say, and a forged anchor is refused — on every backend.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::chain::anchor::{Anchor, AnchorKey};
use latchkey_core::chain::{self, ChainKey, Hash};
use latchkey_store::Store;
use latchkey_store::audit::{self, NewEvent};

/// This installation's keys (derived from the master key in a real one).
fn chain_key() -> ChainKey {
    ChainKey::new(&[9; 32])
}

fn anchor_key() -> AnchorKey {
    AnchorKey::new(&[10; 32])
}

fn start() -> Timestamp {
    Timestamp::from_second(1_767_225_600).expect("valid instant")
}

/// Appends `n` events with the installation's key, as the use cases do.
async fn grow(store: &Store, n: usize) -> i64 {
    let mut tx = store.write().await.expect("begin");
    let events: Vec<NewEvent> = (0..n)
        .map(|i| NewEvent::new("door.opened", format!("door:{i}")))
        .collect();
    let last = audit::append(&mut tx, &chain_key(), start(), &events)
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    last
}

/// The anchor file after writing one anchor per entry of `anchors`.
fn file_of(anchors: &[Anchor]) -> String {
    anchors
        .iter()
        .map(|a| format!("{}\n", a.to_line()))
        .collect()
}

/// The head signed at `at`, as the server writes it.
async fn anchor(store: &Store, at: Timestamp) -> Anchor {
    let mut conn = store.read().await.expect("conn");
    let (seq, hash) = audit::read_head(&mut conn).await.expect("head");
    Anchor::sign(&anchor_key(), seq, hash, at)
}

async fn last_seq(store: &Store) -> i64 {
    audit::verify(store, &chain_key(), |_| {})
        .await
        .expect("the log can be read")
        .expect("the chain itself is intact")
        .last_seq
}

async fn exec(store: &Store, sql: &str) {
    let mut conn = store.read().await.expect("conn");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("`{sql}`: {e}"));
}

/// A log with anchors written at event 11 and event 21, one minute apart.
async fn anchored(store: &Store) -> String {
    grow(store, 10).await;
    let first = anchor(store, start()).await;
    grow(store, 10).await;
    let second = anchor(store, start() + SignedDuration::from_mins(1)).await;
    assert_eq!(
        (first.seq, second.seq),
        (11, 21),
        "the marker, then 10 + 10 events"
    );
    file_of(&[first, second])
}

async fn check(store: &Store, text: &str) -> Result<String, String> {
    let last = last_seq(store).await;
    let mut conn = store.read().await.expect("conn");
    match audit::check_anchors(&mut conn, &anchor_key(), text, last)
        .await
        .expect("the log can be read")
    {
        Ok(held) => Ok(format!("{} {}", held.anchors, held.latest.seq)),
        Err(brk) => Err(brk.to_string()),
    }
}

#[tokio::test]
async fn anchors_written_while_the_log_grows_all_hold() {
    latchkey_testkit::each_backend("anchors_hold", |db| async move {
        let store = db.open().await;
        let text = anchored(&store).await;
        assert!(
            text.starts_with("latchkey-audit-anchor v1 seq=11 hash="),
            "{text}"
        );
        assert_eq!(check(&store, &text).await, Ok("2 21".to_owned()));
        grow(&store, 5).await;
        assert_eq!(
            check(&store, &text).await,
            Ok("2 21".to_owned()),
            "later events do not disturb earlier anchors"
        );
    })
    .await;
}

/// Rewrites events `from..` with the installation's key — someone who has the key as well as
/// the database — so that the chain itself verifies again.
async fn rewrite_with_the_key(store: &Store, from: i64) {
    let mut conn = store.read().await.expect("conn");
    let rows = audit::stored_after(&mut conn, from - 2, 1_000_000)
        .await
        .expect("rows");
    let mut prev: Hash = rows[0].hash.as_slice().try_into().expect("hash");
    for row in &rows[1..] {
        let data = r#"{"rewritten":true}"#;
        let body = chain::EventBody { data, ..row.body() };
        let hash = chain::hash_event_digested(&chain_key(), &prev, &body);
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
async fn a_rewrite_with_the_key_below_an_anchor_is_named_by_that_anchor() {
    latchkey_testkit::each_backend("anchor_rewrite", |db| async move {
        let store = db.open().await;
        let text = anchored(&store).await;
        rewrite_with_the_key(&store, 15).await;
        let said = check(&store, &text).await.expect_err("the rewrite is seen");
        assert!(
            said.starts_with(
                "anchor on line 2 (event 21, written 2026-01-01T00:01:00Z) does not match the log"
            ),
            "{said}"
        );
        assert!(
            said.contains("rewritten or replaced at or before event 21"),
            "{said}"
        );

        rewrite_with_the_key(&store, 5).await;
        let said = check(&store, &text).await.expect_err("the rewrite is seen");
        assert!(said.starts_with("anchor on line 1 (event 11"), "{said}");
    })
    .await;
}

#[tokio::test]
async fn a_log_truncated_below_the_last_anchor_is_named() {
    latchkey_testkit::each_backend("anchor_truncated", |db| async move {
        let store = db.open().await;
        let text = anchored(&store).await;
        // Dropping the tail and moving the head back needs no key at all.
        exec(&store, "DELETE FROM events WHERE seq > 18").await;
        exec(
            &store,
            "UPDATE audit_head SET seq = 18, hash = (SELECT hash FROM events WHERE seq = 18)",
        )
        .await;
        assert_eq!(last_seq(&store).await, 18, "the chain alone still verifies");
        let said = check(&store, &text)
            .await
            .expect_err("the truncation is seen");
        assert_eq!(
            said,
            "anchor on line 2 (event 21, written 2026-01-01T00:01:00Z) is past the end of the \
             log, which ends at event 18: the log was truncated or replaced by an older copy"
        );
    })
    .await;
}

#[tokio::test]
async fn a_replaced_database_does_not_hold_the_anchors_of_the_old_one() {
    latchkey_testkit::each_backend("anchor_replaced", |db| async move {
        let store = db.open().await;
        let text = anchored(&store).await;
        // Another log of the same length, written with the same key in its place.
        exec(&store, "DELETE FROM events").await;
        reset_head(&store).await;
        let mut tx = store.write().await.expect("begin");
        let events: Vec<NewEvent> = (0..20)
            .map(|i| NewEvent::new("door.closed", format!("door:{i}")))
            .collect();
        audit::append(&mut tx, &chain_key(), start(), &events)
            .await
            .expect("append");
        tx.commit().await.expect("commit");
        assert_eq!(last_seq(&store).await, 21);
        let said = check(&store, &text).await.expect_err("another log");
        assert!(
            said.starts_with("anchor on line 1 (event 11") && said.contains("does not match"),
            "{said}"
        );
    })
    .await;
}

/// Puts the head back to an empty log's, as a new database has it.
async fn reset_head(store: &Store) {
    let mut conn = store.read().await.expect("conn");
    sqlx::query("UPDATE audit_head SET seq = 0, hash = $1 WHERE id = 1")
        .bind(chain::GENESIS.to_vec())
        .execute(&mut *conn)
        .await
        .expect("reset the head");
}

#[tokio::test]
async fn a_forged_or_altered_anchor_is_refused() {
    latchkey_testkit::each_backend("anchor_forged", |db| async move {
        let store = db.open().await;
        let text = anchored(&store).await;

        // Signed with a key that is not this installation's.
        let genuine = anchor(&store, start()).await;
        let forged = Anchor::sign(
            &AnchorKey::new(&[1; 32]),
            genuine.seq,
            genuine.hash,
            start(),
        );
        let said = check(&store, &format!("{text}{}\n", forged.to_line()))
            .await
            .expect_err("a foreign signature");
        assert!(
            said.starts_with("anchor on line 3 (event 21")
                && said.contains("has a signature that does not match"),
            "{said}"
        );

        // An anchor moved back to an earlier event, to hide a later truncation.
        let altered = text.replacen("seq=21", "seq=15", 1);
        let said = check(&store, &altered)
            .await
            .expect_err("an altered anchor");
        assert!(
            said.starts_with("anchor on line 2 (event 15") && said.contains("signature"),
            "{said}"
        );

        let said = check(&store, "").await.expect_err("nothing to check");
        assert_eq!(said, "the anchor file holds no anchors");
    })
    .await;
}
