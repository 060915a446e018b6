//! What would close a gap, found by trying each change on the resident's situation for the
//! gap's hours and keeping those that leave at least two ways at every one of them.

use serde::Serialize;

use super::{Failure, Gap, Situation, gap_hours};

/// A change that adds a way back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fix {
    /// A PIN of their own, valid at these hours (a second code besides the phone).
    Pin,
    /// A phone key of their own.
    PhoneKey,
    /// Someone holding a spare key to the unit, reachable at these hours.
    SpareKey,
    /// A printed recovery card.
    RecoveryCard,
    /// Staff on the on-call roster at these hours (the building's fix, not the resident's).
    OnCall,
}

impl Fix {
    const ALL: [Fix; 5] = [
        Fix::Pin,
        Fix::SpareKey,
        Fix::RecoveryCard,
        Fix::PhoneKey,
        Fix::OnCall,
    ];

    /// The fix as a person reads it.
    pub fn phrase(self) -> &'static str {
        match self {
            Fix::Pin => "a PIN valid at these hours",
            Fix::PhoneKey => "a phone key",
            Fix::SpareKey => "a spare-key holder reachable at these hours",
            Fix::RecoveryCard => "a printed recovery card",
            Fix::OnCall => "someone on the on-call roster at these hours",
        }
    }

    /// The situation with this fix made for `hours`, or `None` when it cannot help after
    /// `failure` (a PIN after the PIN is forgotten, a card the policy does not accept).
    fn apply(
        self,
        s: &Situation,
        failure: Failure,
        hours: crate::week::WeekHours,
    ) -> Option<Situation> {
        let mut s = s.clone();
        match self {
            Fix::Pin if failure.keeps_pin() => s.pin = s.pin.union(hours),
            Fix::PhoneKey if failure.keeps_phone() => s.phone_key = s.phone_key.union(hours),
            Fix::SpareKey => s.spare_keys.push(hours),
            Fix::RecoveryCard if s.proofs.recovery_code_accepted && !s.proofs.recovery_card => {
                s.proofs.recovery_card = true;
            }
            Fix::OnCall => s.staff = s.staff.union(hours),
            _ => return None,
        }
        Some(s)
    }
}

/// The fixes that each close `g` alone; when none does, the first pair that does together;
/// when no pair does either, nothing.
pub(super) fn fixes_for(s: &Situation, failure: Failure, g: &Gap) -> (Vec<Fix>, bool) {
    let hours = gap_hours(g);
    let closes = |t: &Situation| t.ways(failure).covered_twice().intersect(hours) == hours;
    let singles: Vec<Fix> = Fix::ALL
        .into_iter()
        .filter(|f| f.apply(s, failure, hours).is_some_and(|t| closes(&t)))
        .collect();
    if !singles.is_empty() {
        return (singles, false);
    }
    for (i, a) in Fix::ALL.iter().enumerate() {
        for b in &Fix::ALL[i + 1..] {
            let both = a
                .apply(s, failure, hours)
                .and_then(|t| b.apply(&t, failure, hours));
            if both.is_some_and(|t| closes(&t)) {
                return (vec![*a, *b], true);
            }
        }
    }
    (Vec::new(), false)
}

/// The sentence for a gap: when, after which failure, what is left, and what would close it.
pub(super) fn sentence(g: &Gap) -> String {
    let days = if g.from_day == g.to_day {
        g.from_day.short_name().to_owned()
    } else {
        format!("{}–{}", g.from_day.short_name(), g.to_day.short_name())
    };
    let when = format!(
        "{days} {:02}:00–{:02}:00, {}",
        g.from_hour,
        g.until_hour,
        g.failure.phrase()
    );
    let left = match g.ways.as_slice() {
        [] => "there is no free way back in".to_owned(),
        [only] => format!("your only way in is {}", only.phrase()),
        _ => "fewer than two ways back in".to_owned(),
    };
    let add = g
        .fixes
        .iter()
        .map(|f| f.phrase())
        .collect::<Vec<_>>()
        .join(if g.fixes_together { " and " } else { " or " });
    if add.is_empty() {
        format!("{when}: {left}; the policy accepts no proof you would still have.")
    } else {
        format!("{when}: {left}; add {add}.")
    }
}
