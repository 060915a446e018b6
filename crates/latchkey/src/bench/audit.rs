//! `latchkey bench audit`: appends to the keyed hash chain (HMAC-SHA-256) against plain batched
//! inserts of the same rows in the same run (target ≥ 50 %), then `verify` over the whole log
//! (target ≥ 1,000,000/s).

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use jiff::Timestamp;
use latchkey_core::chain::ChainKey;
use latchkey_core::{PersonId, PropertyId};
use latchkey_store::audit::{self, NewEvent};
use latchkey_store::bench::{create_plain_events, insert_plain_events};
use serde_json::json;

use super::{Rng, TempDir, store_err};

const BATCH: usize = 1_000;

/// Events shaped like access decisions, with about 150 bytes of JSON data each.
fn events(n: usize, rng: &mut Rng, now: Timestamp) -> Vec<NewEvent> {
    (0..n)
        .map(|i| {
            let door = 1 + rng.below(400);
            let granted = rng.chance(80);
            NewEvent::new("access.decided", format!("door:{door}"))
                .property(PropertyId(1))
                .actor(Some(PersonId(1 + rng.below(5_000) as i64)))
                .data(json!({
                    "credential_id": 1 + rng.below(100_000),
                    "method": "keypad",
                    "granted": granted,
                    "reason": if granted { "none" } else { "outside_schedule" },
                    "at": now,
                    "lock": format!("lock-{door:04}"),
                    "n": i,
                }))
        })
        .collect()
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// # Errors
/// The temporary database cannot be written or read.
pub async fn run(n: usize) -> Result<()> {
    let dir = TempDir::new("audit")?;
    let store = dir.store().await?;
    create_plain_events(&store).await.map_err(store_err)?;
    let now = Timestamp::now();
    let key = ChainKey::new(&[0x5a; 32]);
    let all = events(n, &mut Rng::new(0xa0d1_7000), now);
    let avg = all.iter().map(|e| e.data.to_string().len()).sum::<usize>() / all.len().max(1);
    println!(
        "{n} events, {avg} bytes of JSON data on average, {BATCH} per transaction, synchronous=FULL"
    );

    // Interleave the two so that both see the same disk and WAL conditions.
    let (mut chained, mut plain) = (Duration::ZERO, Duration::ZERO);
    let mut seq = 1i64;
    for chunk in all.chunks(BATCH) {
        let t = Instant::now();
        let mut tx = store.write().await.map_err(store_err)?;
        audit::append(&mut tx, &key, now, chunk)
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        chained += t.elapsed();

        let t = Instant::now();
        insert_plain_events(&store, seq, now, chunk)
            .await
            .map_err(store_err)?;
        plain += t.elapsed();
        seq += chunk.len() as i64;
    }
    let (append_rate, plain_rate) = (rate(n, chained), rate(n, plain));
    println!(
        "append with keyed chain: {append_rate:>9.0} events/s ({:.2} s)",
        chained.as_secs_f64()
    );
    println!(
        "plain batched inserts:  {plain_rate:>10.0} rows/s ({:.2} s); append is {:.0} % of plain (target ≥ 50 %)",
        plain.as_secs_f64(),
        100.0 * append_rate / plain_rate
    );

    let t = Instant::now();
    let outcome = audit::verify(&store, &key, |_| {})
        .await
        .map_err(store_err)?;
    let verify_time = t.elapsed();
    let summary = outcome.map_err(|b| anyhow!("the bench's own chain is broken: {b}"))?;
    let verify_rate = rate(summary.events as usize, verify_time);
    println!(
        "verify: {} events in {:.2} s = {verify_rate:.0} events/s (target ≥ 1,000,000/s)",
        summary.events,
        verify_time.as_secs_f64()
    );
    store.close().await;
    println!(
        "{}",
        json!({
            "bench": "audit",
            "append_per_sec": append_rate.round(),
            "plain_per_sec": plain_rate.round(),
            "verify_per_sec": verify_rate.round(),
        })
    );
    Ok(())
}
