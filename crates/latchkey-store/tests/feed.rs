//! The change feed's table on every backend: rows come back in order with their origin, a
//! sensor's pairing has no door, old rows are pruned, and a kind this binary does not know is
//! reported as corruption rather than skipped.

#![allow(clippy::unwrap_used)]

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{CredentialId, DoorId};
use latchkey_store::StoreError;
use latchkey_store::feed::{self, Change};
use latchkey_testkit::each_backend;

#[tokio::test]
async fn changes_come_back_in_order_and_old_ones_are_pruned() {
    each_backend("feed_rows", |db| async move {
        let store = db.open().await;
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let changes = [
            Change::Door(DoorId(3)),
            Change::Credential(CredentialId(9), DoorId(3)),
            Change::Pairing(None),
            Change::BrokerLogins,
        ];
        let mut tx = store.write().await.unwrap();
        let backend = tx.backend();
        feed::append(tx.conn(), backend, t0, "terminal-1", &changes)
            .await
            .unwrap();
        feed::append(
            tx.conn(),
            backend,
            t0 + SignedDuration::from_hours(2),
            "replica-b",
            &[Change::Pairing(Some(DoorId(4)))],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let mut conn = store.read().await.unwrap();
        let rows = feed::after(&mut conn, 0, 100).await.unwrap();
        let got: Vec<(&str, Change)> = rows.iter().map(|r| (r.origin.as_str(), r.change)).collect();
        assert_eq!(
            got,
            vec![
                ("terminal-1", changes[0]),
                ("terminal-1", changes[1]),
                ("terminal-1", changes[2]),
                ("terminal-1", changes[3]),
                ("replica-b", Change::Pairing(Some(DoorId(4)))),
            ]
        );
        assert_eq!(feed::last_seq(&mut conn).await.unwrap(), rows[4].seq);
        assert_eq!(
            feed::after(&mut conn, rows[1].seq, 1).await.unwrap()[0].seq,
            rows[2].seq
        );
        drop(conn);

        let mut tx = store.write().await.unwrap();
        let pruned = feed::prune(tx.conn(), t0 + SignedDuration::from_hours(1))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(pruned, 4);
        let mut conn = store.read().await.unwrap();
        let left = feed::after(&mut conn, 0, 100).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].origin, "replica-b");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_kind_is_corruption_not_silence() {
    each_backend("feed_unknown", |db| async move {
        let store = db.open().await;
        let mut tx = store.write().await.unwrap();
        let backend = tx.backend();
        feed::append(
            tx.conn(),
            backend,
            Timestamp::UNIX_EPOCH,
            "x",
            &[Change::Door(DoorId(1))],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.write().await.unwrap();
        sqlx::query("UPDATE changes SET kind = 'teleport'")
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut conn = store.read().await.unwrap();
        match feed::after(&mut conn, 0, 10).await {
            Err(StoreError::Corrupt(what)) => assert!(what.contains("teleport"), "{what}"),
            other => panic!("expected corruption, got {other:?}"),
        }
    })
    .await;
}
