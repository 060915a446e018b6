//! The audit chain as the console shows it: the head, the last anchor this process wrote, and a
//! verification of the whole chain that staff start from a page — one at a time per process,
//! since it reads every event (docs/ARCHITECTURE.md, decision 75).

use std::time::{Duration, Instant};

use latchkey_core::chain::anchor::Anchor;
use latchkey_store::audit::{self, VerifyOutcome};

use crate::authz::Staff;
use crate::{App, AppError, Result};

/// What the console knows of the chain's anchors and whether a verification is running.
#[derive(Default)]
pub(crate) struct ChainWatch {
    verifying: tokio::sync::Mutex<()>,
    last_anchor: std::sync::Mutex<Option<Anchor>>,
}

/// A verification's outcome and how long it took.
pub struct Verified {
    pub outcome: VerifyOutcome,
    pub took: Duration,
}

impl App {
    /// Remembers the anchor this process just wrote (to its log, and to the anchor file when
    /// one is configured), for the console's audit page.
    pub fn note_anchor(&self, anchor: &Anchor) {
        if let Ok(mut last) = self.inner.chain.last_anchor.lock() {
            *last = Some(anchor.clone());
        }
    }

    /// The last anchor this process wrote, if any since it started.
    pub fn last_anchor(&self) -> Option<Anchor> {
        self.inner
            .chain
            .last_anchor
            .lock()
            .ok()
            .and_then(|a| a.clone())
    }

    /// Verifies the whole chain for a property's staff member (the outcome names only sequence
    /// numbers and the kind of break, never an event's content).
    ///
    /// # Errors
    /// `Conflict` while another verification runs in this process; `Store` when the log cannot
    /// be read.
    pub async fn verify_audit_for(&self, _staff: Staff<'_>) -> Result<Verified> {
        let Ok(_running) = self.inner.chain.verifying.try_lock() else {
            return Err(AppError::Conflict(
                "a verification of the audit chain is already running; its result shows when it \
                 ends, try again in a moment"
                    .into(),
            ));
        };
        let started = Instant::now();
        let outcome = audit::verify(self.store(), self.keys().chain_key(), |_| {}).await?;
        Ok(Verified {
            outcome,
            took: started.elapsed(),
        })
    }
}
