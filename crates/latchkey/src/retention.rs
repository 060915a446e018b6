//! The retention job while `serve` runs: at start and every hour, personal access events older
//! than their property's retention are redacted and people who moved out longer ago are erased
//! (docs/OPERATIONS.md, "Privacy"). Every replica runs it: each run takes the audit chain's
//! head before redacting, so runs on several replicas follow one another and the second finds
//! nothing left to do.

use std::time::Duration;

use latchkey_app::App;

/// How often retention runs while serving.
pub const EVERY: Duration = Duration::from_secs(3_600);

/// Runs retention every [`EVERY`] until the task is aborted. A failed run is logged and tried
/// again at the next tick: the server keeps serving.
pub async fn run(app: App) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app.apply_retention().await {
            Ok(r) if r.redacted > 0 || r.erased > 0 || r.outbox != Default::default() => {
                tracing::info!(
                    redacted = r.redacted,
                    erased = r.erased,
                    outbox = ?r.outbox,
                    "retention applied"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!("retention failed; trying again in an hour: {e}"),
        }
    }
}
