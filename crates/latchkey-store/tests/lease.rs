//! The reconciler lease on every backend: one holder at a time, a generation that stays while
//! the holder renews and goes up whenever the lease is taken, and a fence check that fails for a
//! holder whose lease passed to another, even after the other's lease lapsed in turn.

#![allow(clippy::unwrap_used)]

use jiff::{SignedDuration, Timestamp};
use latchkey_store::devices::{acquire_lease, holds_lease};
use latchkey_testkit::each_backend;

#[tokio::test]
async fn the_lease_has_one_holder_and_its_generation_fences_whoever_lost_it() {
    each_backend("lease_epoch", |db| async move {
        let store = db.open().await;
        let t0: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let s = |n: i64| t0 + SignedDuration::from_secs(n);
        let ttl = 3;
        let take = |holder: &'static str, at: i64| {
            let store = store.clone();
            async move {
                let mut tx = store.write().await.unwrap();
                let e = acquire_lease(tx.conn(), "reconciler", holder, s(at), s(at + ttl))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                e
            }
        };
        let holds = |holder: &'static str, epoch: i64, at: i64| {
            let store = store.clone();
            async move {
                let mut conn = store.read().await.unwrap();
                holds_lease(&mut conn, "reconciler", holder, epoch, s(at))
                    .await
                    .unwrap()
            }
        };

        assert_eq!(take("a", 0).await, Some(1), "the first holder");
        assert_eq!(take("b", 1).await, None, "a live lease is not taken");
        assert_eq!(take("a", 2).await, Some(1), "renewing keeps the generation");
        assert!(holds("a", 1, 4).await);
        // A's renewal at 2 s lasts until 5 s; B takes it after that.
        assert_eq!(take("b", 4).await, None);
        assert_eq!(take("b", 6).await, Some(2), "a lapsed lease passes on");
        assert!(!holds("a", 1, 6).await, "the old holder is fenced");
        assert!(holds("b", 2, 6).await);
        assert_eq!(take("a", 7).await, None, "and cannot renew");
        // B dies; A takes the lease back, in a new generation: B's is fenced, and so would be
        // anything A had begun under its first one.
        assert_eq!(take("a", 10).await, Some(3));
        assert!(!holds("b", 2, 10).await);
        assert!(!holds("a", 1, 10).await);
        assert!(holds("a", 3, 12).await);
        // Renewing after one's own lease lapsed is a new generation too: another replica may
        // have held it meanwhile for all this one knows.
        assert_eq!(take("a", 20).await, Some(4));
        assert!(!holds("a", 4, 24).await, "an expired lease holds nothing");
    })
    .await;
}
