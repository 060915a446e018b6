//! Verification reads the log in pages on two connections at once; breaks at and across page
//! boundaries must still be found and named exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::chain::{BreakKind, ChainKey};
use latchkey_store::Store;
use latchkey_store::audit::{self, NewEvent};

fn key() -> ChainKey {
    ChainKey::new(&[1; 32])
}

/// The keying marker and `events` events after it.
async fn log_of(events: usize) -> (Store, std::path::PathBuf) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("lk-verify-pages-{}-{n}.db", std::process::id()));
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let now = jiff::Timestamp::now();
    for chunk in 0..events.div_ceil(1_000) {
        let mut tx = store.write().await.unwrap();
        let evs: Vec<_> = (0..1_000.min(events - chunk * 1_000))
            .map(|i| {
                NewEvent::new("test.event", format!("thing:{i}"))
                    .data(serde_json::json!({ "i": i, "quote": "\"x\"" }))
            })
            .collect();
        audit::append(&mut tx, &key(), now, &evs).await.unwrap();
        tx.commit().await.unwrap();
    }
    (store, path)
}

async fn sql(store: &Store, statement: &'static str) {
    let mut conn = store.read().await.unwrap();
    sqlx::raw_sql(statement).execute(&mut *conn).await.unwrap();
}

fn cleanup(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_of_several_pages_verifies_and_progress_reaches_the_end() {
    let (store, path) = log_of(25_000).await;
    let mut seen = Vec::new();
    let summary = audit::verify(&store, &key(), |n| seen.push(n))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.events, 25_001);
    assert_eq!(summary.last_seq, 25_001);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&25_001));
    cleanup(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_at_a_page_boundary_is_named() {
    let (store, path) = log_of(25_000).await;
    sql(&store, "DELETE FROM events WHERE seq = 10001").await;
    let brk = audit::verify(&store, &key(), |_| {})
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!((brk.kind, brk.seq), (BreakKind::Deleted, 10_001));
    cleanup(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_in_the_last_page_of_the_second_reader_is_named() {
    let (store, path) = log_of(25_000).await;
    sql(
        &store,
        "UPDATE events SET data = '{\"i\":1}' WHERE seq = 19999",
    )
    .await;
    let brk = audit::verify(&store, &key(), |_| {})
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!((brk.kind, brk.seq), (BreakKind::Edited, 19_999));
    cleanup(&path);
}
