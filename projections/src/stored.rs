//! The stored form of an [`AgreementLedger`]: a format byte, then the ledger in postcard.

use crate::ledger::AgreementLedger;

/// Why a stored ledger could not be read back (then it is rebuilt from the events).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredLedgerError {
    #[error("the stored ledger is empty")]
    Empty,
    #[error("the stored ledger is in format {found}; this program reads format {expected}")]
    Format { found: u8, expected: u8 },
    #[error("the stored ledger cannot be decoded: {0}")]
    Decode(String),
    #[error("the stored ledger cannot be encoded: {0}")]
    Encode(String),
    #[error("the stored ledger has {0} bytes after its end")]
    Trailing(usize),
}

impl AgreementLedger {
    /// The version of the stored form, its first byte. A ledger stored in another format
    /// reads as [`StoredLedgerError::Format`]: the command path then folds the events and
    /// `edoc-ledger replay` rewrites every row.
    ///
    /// Format 2 (2026-12-01): the agreement's restriction records who imposed a
    /// suspension (§5.9). Format 3: force majeure periods are facts (§8.1).
    /// Format 5 (issue 15): facts in effective-date order, withdrawals of charges, and
    /// invoices that remember each charge (§5.5). Format 6: reversals, refunds, voids and
    /// credit notes (BILLING.md 5.2-5.3); invoices keep their settlements by source.
    /// Format 7: a payment recorded late is held as advance until what it settles opened
    /// (BILLING.md 5.1), its `AdvanceApplied` facts carrying its `received_on`.
    /// Format 8 (issue 16): the agreement keeps its subscription and what the billing run
    /// invoiced (BILLING.md 2, 4).
    pub const STORED_FORMAT: u8 = 8;

    /// The stored form: [`Self::STORED_FORMAT`], then the ledger in postcard, a compact
    /// binary serde format (a fifth of the JSON, several times faster to write and read,
    /// and opaque to the database, which then neither parses nor compresses it; see
    /// docs/performance.md). Deterministic: equal ledgers have equal bytes, which is what
    /// `replay --check` compares.
    pub fn to_stored(&self) -> Result<Vec<u8>, StoredLedgerError> {
        let mut bytes = Vec::with_capacity(16 * 1024);
        bytes.push(Self::STORED_FORMAT);
        postcard::to_extend(self, bytes).map_err(|e| StoredLedgerError::Encode(e.to_string()))
    }

    /// Reads [`Self::to_stored`]'s form back; every byte must belong to the ledger.
    pub fn from_stored(bytes: &[u8]) -> Result<Self, StoredLedgerError> {
        let (&format, body) = bytes.split_first().ok_or(StoredLedgerError::Empty)?;
        if format != Self::STORED_FORMAT {
            return Err(StoredLedgerError::Format {
                found: format,
                expected: Self::STORED_FORMAT,
            });
        }
        let (ledger, rest) = postcard::take_from_bytes::<Self>(body)
            .map_err(|e| StoredLedgerError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(StoredLedgerError::Trailing(rest.len()));
        }
        Ok(ledger)
    }
}
