//! `latchkey bench …`: the project's own measurements of targets in BENCHMARKS.md. Each bench
//! builds a temporary SQLite database, prints human-readable lines, and prints one JSON object
//! as its last line for scripts.

pub mod audit;
pub mod decisions;
pub mod deliveries;
pub mod drill;
pub mod idle;
pub mod pages;
pub mod revoke;
pub(crate) mod rig;
pub mod storm;
pub mod unlock;

use std::path::PathBuf;

use anyhow::{Context, Result};
use latchkey_store::Store;

/// A small deterministic generator (SplitMix64): benches must be repeatable, and they need
/// no cryptographic randomness.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A storage failure, as a bench reports it.
pub fn store_err(e: latchkey_store::StoreError) -> anyhow::Error {
    anyhow::anyhow!("storage failed: {e}")
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "latchkey-bench-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    /// Opens a fresh SQLite store in this directory (WAL, synchronous=FULL, as in production).
    pub async fn store(&self) -> Result<Store> {
        let url = format!("sqlite://{}/bench.db", self.0.display());
        Store::open(&url)
            .await
            .with_context(|| format!("cannot open {url}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp directory is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
