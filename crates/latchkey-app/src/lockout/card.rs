//! Recovery cards: a few single-use codes a person prints and keeps on paper, for the night the
//! phone is the thing they lost. A code given with a case token is a lockout proof
//! ([`ProofKind::RecoveryCode`], when the property's policy counts it), used once; a new card
//! replaces the unused codes of the one before. Only a SHA-256 digest of each code is stored.
//! The readiness drill counts a person holding unused codes as having one more way back in.

use latchkey_core::model::ProofKind;
use latchkey_store::audit::NewEvent;
use latchkey_store::lockout as repo;
use serde::Serialize;
use serde_json::json;

use crate::authz::CardHolder;
use crate::secrets::{random_bytes, token_digest};
use crate::{App, Result};

/// Codes on a card.
pub const CARD_CODES: usize = 6;
/// Characters of a code: Crockford's base32 (no I, L, O, U), 12 of them: 60 bits.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_LEN: usize = 12;

/// A new card's codes, shown once (to print).
#[derive(Clone, Debug, Serialize)]
pub struct RecoveryCard {
    /// Grouped for reading aloud and typing: `XXXX-XXXX-XXXX`.
    pub codes: Vec<String>,
}

/// A code as typed: case, spaces and dashes do not matter, and the letters people confuse with
/// digits (O, I, L) are read as those digits.
pub(crate) fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// The stored form of a code.
pub(crate) fn code_digest(code: &str) -> Vec<u8> {
    token_digest(&format!("lkr_{}", normalise(code)))
}

fn new_code() -> Result<String> {
    let bytes = random_bytes::<CODE_LEN>()?;
    let raw: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Ok(format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..]))
}

impl App {
    /// Prints a new recovery card for the caller: [`CARD_CODES`] codes, shown once; the
    /// unused codes of any card before stop working.
    ///
    /// # Errors
    /// `Internal` when the random source fails.
    pub async fn print_recovery_card(&self, holder: CardHolder<'_>) -> Result<RecoveryCard> {
        let who = holder.principal();
        let codes = (0..CARD_CODES)
            .map(|_| new_code())
            .collect::<Result<Vec<_>>>()?;
        let digests: Vec<Vec<u8>> = codes.iter().map(|c| code_digest(c)).collect();
        let now = self.now();
        let mut tx = self.store().write().await?;
        repo::replace_recovery_codes(tx.conn(), who.id(), &digests, now).await?;
        let ev = NewEvent::new("recovery_card.printed", format!("person:{}", who.id()))
            .actor(Some(who.id()))
            .data(json!({ "codes": CARD_CODES }));
        self.commit_at(tx, vec![ev], now).await?;
        Ok(RecoveryCard { codes })
    }

    /// How many unused codes the caller's recovery card has left (0: none printed, or all
    /// used).
    ///
    /// # Errors
    /// `Store` on a failed read.
    pub async fn recovery_codes_left(&self, who: &crate::authz::Principal) -> Result<i64> {
        let mut conn = self.store().read().await?;
        Ok(repo::unused_recovery_codes(&mut conn, who.id()).await?)
    }

    /// A code from the recovery card of the person the case is about, given with the case
    /// token (no sign-in). As [`App::prove_with_totp`]: one fixed refusal for every refused
    /// code, the same limits, the same minimum time.
    ///
    /// # Errors
    /// As [`App::prove_with_totp`].
    pub async fn prove_with_recovery_code(
        &self,
        token: &str,
        code: &str,
        source: &str,
    ) -> Result<super::CaseView> {
        super::held(self.check_code(token, code, source, ProofKind::RecoveryCode)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_read_the_same_however_it_is_typed() {
        assert_eq!(code_digest("AB12-CD34-EF56"), code_digest("ab12 cd34 ef56"));
        assert_eq!(code_digest("0110-0000-0000"), code_digest("OIL0-oooo-0000"));
        assert_ne!(code_digest("AB12-CD34-EF56"), code_digest("AB12-CD34-EF57"));
    }

    #[test]
    fn new_codes_are_grouped_and_from_the_alphabet() {
        let c = new_code().unwrap_or_default();
        assert_eq!(c.len(), 14);
        assert!(
            c.chars()
                .all(|ch| ch == '-' || ALPHABET.contains(&(ch as u8))),
            "{c}"
        );
        assert_eq!(normalise(&c).len(), CODE_LEN);
    }
}
