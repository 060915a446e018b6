//! The cases a signed-in person is asked about: their household's (to follow, or to cancel one
//! they did not expect) and, once proven, the cases of a unit they hold a spare key to (to
//! release a one-time PIN or open the door). What the web app's home page shows live.

use jiff::{SignedDuration, Timestamp};
use latchkey_core::{DoorId, LockoutCaseId, PersonId};
use latchkey_store::lockout::{self as repo, LockoutCase};
use latchkey_store::recovery;
use serde::Serialize;

use crate::authz::Principal;
use crate::{App, Result};

/// How long a closed case stays among the prompts, so its household sees how it ended.
const CLOSED_SHOWN: SignedDuration = SignedDuration::from_hours(12);
/// At most this many prompts, newest first.
const MAX_PROMPTS: usize = 10;

/// One case the caller is asked about.
#[derive(Clone, Debug, Serialize)]
pub struct CasePrompt {
    pub id: LockoutCaseId,
    /// The unit's label and the name as the person at the door typed them.
    pub unit: String,
    pub claimed_identity: String,
    /// `open`, `proven`, `resolved` or `cancelled`.
    pub state: String,
    pub created_at: Timestamp,
    /// The caller lives in the case's unit (or is staff): they may cancel an open case.
    pub household: bool,
    /// The caller holds a spare key to the case's unit and the case is proven: they may
    /// release a one-time PIN and open the door, each once.
    pub spare_key: bool,
    /// What this caller has already done with their spare key in this case.
    pub released_pin: bool,
    pub opened_remotely: bool,
    /// For a spare-key holder: the unit's doors with a lock, to open one remotely.
    pub doors: Vec<(DoorId, String)>,
}

fn recent(case: &LockoutCase, now: Timestamp) -> bool {
    match case.closed_at {
        None => true,
        Some(closed) => now.duration_since(closed) <= CLOSED_SHOWN,
    }
}

/// Whether a timeline step records this person's spare-key action of `kind` (`pin`, `unlock`).
fn did(steps: &[repo::Step], me: PersonId, kind: &str) -> bool {
    steps.iter().any(|s| {
        s.kind == "spare_key_released"
            && s.actor_id == Some(me)
            && s.detail.get("kind").and_then(|k| k.as_str()) == Some(kind)
    })
}

impl App {
    /// The cases the caller is asked about now (see the module's description), newest first.
    ///
    /// # Errors
    /// `Store` when they cannot be read.
    pub async fn case_prompts(&self, who: &Principal) -> Result<Vec<CasePrompt>> {
        let now = self.now();
        let mut properties: Vec<_> = who.active().map(|m| m.property_id).collect();
        properties.sort_unstable();
        properties.dedup();
        let mut conn = self.store().read().await?;
        let mut out = Vec::new();
        for p in properties {
            let keys = recovery::list_spare_keys(&mut conn, p, None).await?;
            for case in repo::list_cases(&mut conn, p).await? {
                if !recent(&case, now) {
                    continue;
                }
                let proven = matches!(case.state.as_str(), "proven" | "resolved");
                if !who.follows_case(&case, &keys, proven) {
                    continue;
                }
                let holder = proven && keys.iter().any(|k| who.holds(k, &case));
                let (steps, doors) = if holder {
                    let doors = super::openings::unit_lock_doors(&mut conn, &case)
                        .await?
                        .into_iter()
                        .map(|d| (d.id, d.name))
                        .collect();
                    (repo::steps_of(&mut conn, case.id).await?, doors)
                } else {
                    (Vec::new(), Vec::new())
                };
                out.push(CasePrompt {
                    id: case.id,
                    unit: case.claimed_unit.clone(),
                    claimed_identity: case.claimed_identity.clone(),
                    household: who.sees_case(&case),
                    spare_key: holder && case.state == "proven",
                    released_pin: did(&steps, who.id(), "pin"),
                    opened_remotely: did(&steps, who.id(), "unlock"),
                    doors,
                    state: case.state,
                    created_at: case.created_at,
                });
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id.0)));
        out.truncate(MAX_PROMPTS);
        Ok(out)
    }
}
