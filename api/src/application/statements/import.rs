//! Importing a bank statement (INTEGRATION.md 2): the parsed lines matched to agreements
//! and recorded as payments through the batched write path, the statement and what became
//! of each line stored; reading it back; assigning an unmatched line by hand.
//!
//! The rules (docs/domain/bank-statements.md):
//! - only a credit that is not a reversal becomes a payment; debits and reversals are
//!   kept as `not_a_credit`, never dropped;
//! - the payer's BIN/IIN is the agreement's id; no valid BIN/IIN, no agreement, or a
//!   currency other than the agreement's leaves the line `unmatched` with its reason;
//! - the invoice the purpose names is passed when the agreement has it, else the payment
//!   is recorded without it and the line notes so;
//! - the payment's reference is the bank's, prefixed [`BANK_REFERENCE_PREFIX`]; its
//!   `received_on` the value date (BILLING.md 5.1, §5.5: it may be in the past);
//! - a line whose payment was recorded before (the same reference on the agreement, by an
//!   earlier statement or earlier in this one) is a `duplicate`; one the agreement refuses
//!   (a terminated agreement, a closed month, a future date) is `unmatched` with the
//!   refusal;
//! - the same file (by SHA-256) again records nothing and answers the stored statement.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use aggregates::{AgreementError, ParticipantAgreement};
use commands::{AgreementCommand, ReceivePayment};
use events::{business_date, InvoiceNumber, ParticipantId, PaymentReference};
use rust_decimal::Decimal;

use super::{parse_statement, BankStatement, StatementError, StatementFormat, StatementLine};
use crate::application::commands::{
    BatchOutcome, CommandContext, Committed, Ledger, LedgerError, Prepared, ReadAhead,
};
use crate::store::{StatementLineRow, StatementRow, StoreError};

/// What a statement line's payment reference starts with, so that it can never clash
/// with a reference typed in by hand (`POST /v1/agreements/{id}/payments`), and tells
/// where the payment came from. INTEGRATION.md 2.
pub const BANK_REFERENCE_PREFIX: &str = "bank:";

/// What became of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// Recorded as a payment (by the import, or assigned by hand).
    Matched,
    /// Its payment was recorded before: nothing recorded.
    Duplicate,
    /// Kept for billing staff; the reason says why.
    Unmatched,
    /// A debit or a reversal: kept, never a payment.
    NotACredit,
}

impl LineOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::Duplicate => "duplicate",
            Self::Unmatched => "unmatched",
            Self::NotACredit => "not_a_credit",
        }
    }
}

/// Why an import recorded nothing.
#[derive(Debug, thiserror::Error)]
pub enum StatementImportError {
    /// The file is not a statement the ledger reads, or its lines disagree with its own
    /// totals.
    #[error(transparent)]
    Invalid(#[from] StatementError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<StoreError> for StatementImportError {
    fn from(error: StoreError) -> Self {
        Self::Ledger(error.into())
    }
}

/// Why an assignment recorded nothing.
#[derive(Debug, thiserror::Error)]
pub enum AssignmentError {
    #[error("{0}")]
    NotFound(String),
    /// The line is not unmatched (matched, assigned, a duplicate, a debit) or is being
    /// assigned.
    #[error("{0}")]
    NotUnmatched(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<StoreError> for AssignmentError {
    fn from(error: StoreError) -> Self {
        Self::Ledger(error.into())
    }
}

/// The totals of a statement's lines: credits and debits as the file has them, and how
/// the credits ended. `credits_sum = matched_sum + unmatched_sum + duplicate_sum +
/// reversed_credits_sum` (the last: credits that are reversals, kept as not_a_credit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BankStatementTotals {
    pub credits: u64,
    #[schema(value_type = events::Amount)]
    pub credits_sum: String,
    pub debits: u64,
    #[schema(value_type = events::Amount)]
    pub debits_sum: String,
    #[schema(value_type = events::Amount)]
    pub matched_sum: String,
    #[schema(value_type = events::Amount)]
    pub unmatched_sum: String,
    #[schema(value_type = events::Amount)]
    pub duplicate_sum: String,
    #[schema(value_type = events::Amount)]
    pub reversed_credits_sum: String,
}

/// The answer to `POST /v1/bank-statements`: counts of lines by outcome and the totals.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BankStatementSummary {
    pub id: String,
    /// How many lines the statement has.
    pub lines: u64,
    pub matched: u64,
    pub duplicates: u64,
    pub unmatched: u64,
    /// Debits and reversals, kept.
    pub not_a_credit: u64,
    pub totals: BankStatementTotals,
}

/// One line as `GET /v1/bank-statements/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BankStatementLineView {
    /// The line's index in the file, from 0.
    pub n: i64,
    #[schema(value_type = String, format = Date, example = "2026-12-01")]
    pub value_date: String,
    #[schema(value_type = events::Amount)]
    pub amount: String,
    pub currency: String,
    pub credit: bool,
    pub reversal: bool,
    pub payer_bin: Option<String>,
    /// The payer's identification as the file has it (valid BIN/IIN or not).
    pub payer_id_text: Option<String>,
    pub payer_name: Option<String>,
    pub purpose: Option<String>,
    pub bank_reference: String,
    /// `matched`, `duplicate`, `unmatched` or `not_a_credit`.
    pub outcome: String,
    /// Why a line is unmatched; on a matched line, a note (an invoice named in the
    /// purpose that is not the agreement's).
    pub reason: Option<String>,
    pub participant_id: Option<String>,
    pub invoice_number: Option<String>,
    /// The reference its payment was recorded under.
    pub payment_reference: Option<String>,
    /// When and by whom an unmatched line was assigned.
    pub assigned_at: Option<String>,
    pub assigned_by: Option<String>,
    /// An assignment under way (cut short after its claim): the agreement (and
    /// `/invoice`) it records to. Only that same assignment, sent again, finishes it.
    pub assigning_to: Option<String>,
}

/// `GET /v1/bank-statements/{id}`: the statement, its counts and totals as the lines
/// stand now (assignments included), and every line.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BankStatementView {
    pub id: String,
    /// `camt.053.001.NN` or `1c`.
    pub format: String,
    pub account: String,
    pub currency: String,
    /// The statement's own id, where the format has one.
    pub statement_id: Option<String>,
    /// SHA-256 of the file (hex): the same file again is this statement.
    pub digest: String,
    pub received_at: String,
    pub received_by: String,
    /// When its import completed; `null` while it runs or after it was cut short (it
    /// has no lines then; loading the same file again resumes it).
    #[schema(format = DateTime)]
    pub imported_at: Option<String>,
    pub matched: u64,
    pub duplicates: u64,
    pub unmatched: u64,
    pub not_a_credit: u64,
    pub totals: BankStatementTotals,
    pub lines: Vec<BankStatementLineView>,
}

/// What an import gave: the statement's summary, and whether this request stored it
/// (`false`: the same file was loaded before, nothing recorded now).
#[derive(Debug, Clone)]
pub struct Imported {
    pub summary: BankStatementSummary,
    pub created: bool,
}

/// Serializes the imports of a process (see [`import`]).
static IMPORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The payment reference a bank reference is recorded under: [`BANK_REFERENCE_PREFIX`]
/// and the bank's; a bank reference too long for that is replaced by its SHA-256.
pub fn payment_reference(bank_reference: &PaymentReference) -> PaymentReference {
    let text = format!("{BANK_REFERENCE_PREFIX}{}", bank_reference.as_str());
    PaymentReference::parse(&text).unwrap_or_else(|_| {
        let digest = Sha256::digest(bank_reference.as_str().as_bytes());
        PaymentReference::parse(&format!("{BANK_REFERENCE_PREFIX}sha256:{digest:x}"))
            .expect("a prefixed digest is a reference")
    })
}

/// The SHA-256 of a file, hex.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The agreement a line goes to, or what it is if it goes to none: a credit that is not
/// a reversal, with a valid BIN/IIN of the payer, in a currency the ledger settles
/// (INTEGRATION.md 2).
pub fn payer_of(line: &StatementLine) -> Result<ParticipantId, (LineOutcome, String)> {
    if !line.credit {
        return Err((LineOutcome::NotACredit, "a debit".to_owned()));
    }
    if line.reversal {
        return Err((
            LineOutcome::NotACredit,
            "a reversal of an earlier entry: not a payment".to_owned(),
        ));
    }
    if line.currency.ledger().is_none() {
        return Err((
            LineOutcome::Unmatched,
            format!(
                "the line is in {}, which the ledger does not settle",
                line.currency
            ),
        ));
    }
    match &line.payer_bin {
        Some(bin) => Ok(bin.clone()),
        None => Err((
            LineOutcome::Unmatched,
            match &line.payer_id_text {
                Some(text) => format!("the payer's identification `{text}` is not a valid BIN/IIN"),
                None => "the payer names no BIN/IIN".to_owned(),
            },
        )),
    }
}

/// The payment a credit line records on `agreement`, with a note when the purpose names
/// an invoice the agreement does not have (recorded without it); or why it stays
/// unmatched: no agreement, or not in its currency. INTEGRATION.md 2; BILLING.md 5.1 and
/// §5.5 (the value date is the day of payment, maybe in the past).
pub fn payment_of(
    line: &StatementLine,
    agreement: &ParticipantAgreement,
    invoice: Option<InvoiceNumber>,
) -> Result<(ReceivePayment, Option<String>), String> {
    let Some(registration) = agreement.registration() else {
        return Err(match &line.payer_bin {
            Some(bin) => format!("no agreement is registered for the payer's BIN/IIN {bin}"),
            None => "no agreement".to_owned(),
        });
    };
    let currency = line.currency.ledger();
    if currency != Some(registration.currency) {
        return Err(format!(
            "the line is in {}, the agreement settles in {}",
            line.currency,
            registration.currency.code()
        ));
    }
    let (invoice_number, note) = match invoice {
        Some(number) if agreement.invoice(number).is_some() => (Some(number), None),
        Some(number) => (
            None,
            Some(format!(
                "the purpose names invoice {number}, which is not this agreement's: recorded without it"
            )),
        ),
        None => (None, None),
    };
    Ok((
        ReceivePayment {
            reference: payment_reference(&line.bank_reference),
            received_on: line.value_date,
            amount: line.amount,
            currency,
            invoice_number,
        },
        note,
    ))
}

fn format_name(format: StatementFormat) -> String {
    match format {
        StatementFormat::Camt053 { version } => format!("camt.053.{version}"),
        StatementFormat::OneC => "1c".to_owned(),
    }
}

/// A line's row before its outcome is known.
fn line_row(line: &StatementLine) -> StatementLineRow {
    StatementLineRow {
        n: i64::try_from(line.index).unwrap_or(i64::MAX),
        bank_reference: line.bank_reference.as_str().to_owned(),
        value_date: business_date::format(line.value_date),
        amount: line.amount.to_string(),
        currency: line.currency.as_str().to_owned(),
        credit: line.credit,
        reversal: line.reversal,
        payer_bin: line.payer_bin.as_ref().map(|b| b.as_str().to_owned()),
        payer_id_text: line.payer_id_text.as_deref().map(printable),
        payer_name: line.payer_name.as_deref().map(printable),
        purpose: line.purpose.as_deref().map(printable),
        outcome: LineOutcome::Unmatched.as_str().to_owned(),
        reason: None,
        participant_id: None,
        invoice_number: None,
        payment_reference: None,
        assigned_at: None,
        assigned_by: None,
        assigning_to: None,
    }
}

/// A text of the file as it is stored and shown: without control characters other than
/// line breaks and tabs (a NUL cannot be stored in PostgreSQL's text at all, and the
/// statement must be stored before its payments are recorded).
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// The reason a refused line stays unmatched: the refusal, with its clause.
fn refusal_reason(refusal: &AgreementError) -> String {
    match refusal.clause() {
        Some(clause) => format!("refused by the agreement ({}): {refusal}", clause.as_str()),
        None => format!("refused by the agreement: {refusal}"),
    }
}

/// Imports a statement file: parsed (nothing recorded if it is refused), matched, its
/// payments recorded through the batched write path, the statement and its lines stored.
/// The same file again records nothing and answers the stored statement (`created`
/// false). `progress(done, total)` sees the lines done.
pub async fn import(
    ledger: &Arc<Ledger>,
    bytes: &[u8],
    context: &CommandContext,
    progress: impl FnMut(u64, u64),
) -> Result<Imported, StatementImportError> {
    import_checked(ledger, bytes, None, context, progress).await
}

/// [`import`], with the file already parsed and checked by [`check`] (the HTTP handler
/// checks it against the content type first): not parsed twice.
pub async fn import_checked(
    ledger: &Arc<Ledger>,
    bytes: &[u8],
    checked: Option<BankStatement>,
    context: &CommandContext,
    mut progress: impl FnMut(u64, u64),
) -> Result<Imported, StatementImportError> {
    let digest = digest_of(bytes);
    // One import at a time in a process: the same file sent twice at once is imported by
    // the first, and the second finds it stored (across processes, the digest's
    // uniqueness still keeps one statement, and the payments are recorded once).
    let _one_at_a_time = IMPORTS.lock().await;
    let stored = ledger.repository().statement_by_digest(&digest).await?;
    if let Some((id, true)) = &stored {
        return stored_summary(ledger, id).await;
    }
    let started = std::time::Instant::now();
    let statement = match checked {
        Some(statement) => statement,
        None => check(bytes)?,
    };
    let checked_after = started.elapsed();
    let total = statement.lines.len() as u64;
    let id = digest[..16].to_owned();
    let mut rows: Vec<StatementLineRow> = statement.lines.iter().map(line_row).collect();
    // Lines grouped per agreement, agreements in the order they first appear.
    let mut work: Vec<(ParticipantId, Vec<usize>)> = Vec::new();
    let mut place: HashMap<ParticipantId, usize> = HashMap::new();
    let mut settled = 0;
    // One bank entry is one payment: a later line with a bank reference an earlier line
    // of the statement has is a duplicate of it, whichever payer it names.
    let mut first_with_reference: HashMap<&str, usize> = HashMap::new();
    for line in &statement.lines {
        let payer = payer_of(line);
        if payer.is_ok() {
            let first = *first_with_reference
                .entry(line.bank_reference.as_str())
                .or_insert(line.index);
            if first != line.index {
                settled += 1;
                let row = &mut rows[line.index];
                row.outcome = LineOutcome::Duplicate.as_str().to_owned();
                row.reason = Some(format!(
                    "line {first} of this statement has the same bank reference"
                ));
                continue;
            }
        }
        match payer {
            Ok(payer) => {
                let at = *place.entry(payer.clone()).or_insert_with(|| {
                    work.push((payer, Vec::new()));
                    work.len() - 1
                });
                work[at].1.push(line.index);
            }
            Err((outcome, reason)) => {
                settled += 1;
                let row = &mut rows[line.index];
                row.outcome = outcome.as_str().to_owned();
                row.reason = Some(reason);
            }
        }
    }
    // The same bank entry recorded from another statement on another agreement (an
    // overlapping statement, a line assigned by hand there) is a duplicate here: the
    // aggregate recognises a repeat only on its own agreement.
    let references: Vec<String> = work
        .iter()
        .flat_map(|(_, indexes)| indexes)
        .map(|&index| {
            payment_reference(&statement.lines[index].bank_reference)
                .as_str()
                .to_owned()
        })
        .collect();
    // Reference -> the participant another statement recorded it on.
    let recorded_elsewhere = ledger
        .repository()
        .payments_matched_elsewhere(&id, &references)
        .await?;
    if !recorded_elsewhere.is_empty() {
        for (payer, indexes) in &mut work {
            indexes.retain(|&index| {
                let reference = payment_reference(&statement.lines[index].bank_reference);
                match recorded_elsewhere.get(reference.as_str()) {
                    Some(participant) if participant != payer.as_str() => {
                        settled += 1;
                        let row = &mut rows[index];
                        row.outcome = LineOutcome::Duplicate.as_str().to_owned();
                        row.reason = Some(format!(
                            "its bank reference was recorded on agreement {participant} from another statement"
                        ));
                        row.participant_id = Some(participant.clone());
                        row.payment_reference = Some(reference.as_str().to_owned());
                        false
                    }
                    _ => true,
                }
            });
        }
        work.retain(|(_, indexes)| !indexes.is_empty());
    }
    // The statement is stored before any payment is recorded (its import incomplete),
    // its lines with their outcomes once the payments are: whatever happens between (a
    // crash, a lost store, a request cut short), every payment recorded belongs to a
    // stored statement, and loading the file again resumes the import (its recorded
    // payments are then repeats, found below).
    let resumed = stored.is_some();
    if !resumed {
        let statement_row = StatementRow {
            id: id.clone(),
            digest: digest.clone(),
            format: format_name(statement.format),
            account: printable(&statement.account),
            currency: statement.currency.as_str().to_owned(),
            statement_id: statement.statement_id.as_deref().map(printable),
            received_at: String::new(),
            received_by: context.actor.clone(),
            totals: serde_json::to_value(totals_of(&rows))
                .map_err(|e| LedgerError::Render(e.to_string()))?,
            imported_at: None,
        };
        if !ledger.repository().insert_statement(&statement_row).await? {
            // Stored meanwhile by another process: its import records the payments.
            let id = match ledger.repository().statement_by_digest(&digest).await? {
                Some((id, _)) => id,
                None => id,
            };
            return stored_summary(ledger, &id).await;
        }
    }
    progress(settled, total);
    let parsed = started.elapsed();
    let lines = Arc::new(statement.lines);
    let notes: Arc<std::sync::Mutex<HashMap<usize, String>>> = Default::default();
    let prepare = {
        let (lines, notes) = (lines.clone(), notes.clone());
        move |agreement: &ParticipantAgreement, index: &usize| {
            let line = &lines[*index];
            match payment_of(line, agreement, line.named_invoice()) {
                Ok((payment, note)) => {
                    if let Some(note) = note {
                        notes.lock().expect("never poisoned").insert(*index, note);
                    }
                    Prepared::Run(AgreementCommand::ReceivePayment(payment))
                }
                Err(reason) => Prepared::Skip(reason),
            }
        }
    };
    // The lines are stored as their outcomes become known: the settled ones now, each
    // chunk's as its payments are recorded, by a task of their own, so that storing them
    // overlaps the payments still being recorded (on PostgreSQL; see
    // `begin_statement_completion`). The completion commits only when every line is in.
    let mut pending = vec![false; rows.len()];
    for (_, indexes) in &work {
        for &index in indexes {
            pending[index] = true;
        }
    }
    let completion = ledger.repository().begin_statement_completion(&id).await?;
    let (line_sender, mut line_receiver) =
        tokio::sync::mpsc::unbounded_channel::<Vec<StatementLineRow>>();
    let line_writer = tokio::spawn(async move {
        let mut completion = completion;
        while let Some(lines) = line_receiver.recv().await {
            completion.add_lines(&lines).await?;
        }
        Ok::<_, StoreError>(completion)
    });
    // A send fails only when the writer stopped on an error, which awaiting it returns.
    let _ = line_sender.send(
        rows.iter()
            .zip(&pending)
            .filter(|(_, pending)| !**pending)
            .map(|(row, _)| row.clone())
            .collect(),
    );
    ledger
        .execute_batch(
            work,
            context,
            Arc::new(prepare),
            ReadAhead::Nothing,
            |chunk, done| {
                let notes = notes.lock().expect("never poisoned");
                let mut settled_rows = Vec::new();
                for (participant, items) in chunk {
                    for (index, outcome) in items {
                        let row = &mut rows[*index];
                        settle(
                            row,
                            participant,
                            outcome,
                            notes.get(index),
                            &recorded_elsewhere,
                        );
                        settled_rows.push(row.clone());
                    }
                }
                let _ = line_sender.send(settled_rows);
                progress(settled + done as u64, total)
            },
        )
        .await?;
    drop(line_sender);
    let recorded = started.elapsed();
    let completion = match line_writer.await {
        Ok(written) => written?,
        Err(joined) if joined.is_panic() => std::panic::resume_unwind(joined.into_panic()),
        Err(joined) => {
            return Err(LedgerError::Render(format!(
                "storing the statement's lines was cancelled: {joined}"
            ))
            .into())
        }
    };
    let summary_totals = totals_of(&rows);
    completion
        .finish(
            &serde_json::to_value(&summary_totals)
                .map_err(|e| LedgerError::Render(e.to_string()))?,
        )
        .await?;
    tracing::info!(
        statement = %id,
        lines = total,
        resumed,
        parse_ms = checked_after.as_millis() as u64,
        match_ms = (parsed - checked_after).as_millis() as u64,
        payments_ms = (recorded - parsed).as_millis() as u64,
        store_ms = (started.elapsed() - recorded).as_millis() as u64,
        "bank statement imported"
    );
    Ok(Imported {
        summary: summary_of(&id, &rows),
        created: !resumed,
    })
}

/// A line's outcome from what became of its payment in the batch.
fn settle(
    row: &mut StatementLineRow,
    participant: &ParticipantId,
    outcome: &BatchOutcome,
    note: Option<&String>,
    recorded_elsewhere: &HashMap<String, String>,
) {
    let paid = |row: &mut StatementLineRow, command: &AgreementCommand| {
        if let AgreementCommand::ReceivePayment(payment) = command {
            row.participant_id = Some(participant.as_str().to_owned());
            row.invoice_number = payment.invoice_number.map(|n| n.to_string());
            row.payment_reference = Some(payment.reference.as_str().to_owned());
        }
    };
    match outcome {
        BatchOutcome::Recorded { command, .. } => {
            row.outcome = LineOutcome::Matched.as_str().to_owned();
            row.reason = note.cloned();
            paid(row, command);
        }
        // A repeat is a duplicate when another statement's line records the payment
        // (looked up before the payments); else this statement recorded it itself, in an
        // earlier attempt cut short (or another process resuming it at the same time):
        // matched.
        BatchOutcome::Repeat { command } => {
            paid(row, command);
            let elsewhere = row
                .payment_reference
                .as_deref()
                .is_some_and(|reference| recorded_elsewhere.contains_key(reference));
            if elsewhere {
                row.outcome = LineOutcome::Duplicate.as_str().to_owned();
                row.reason = Some("its payment was recorded before".to_owned());
            } else {
                row.outcome = LineOutcome::Matched.as_str().to_owned();
                row.reason =
                    Some("recorded by an earlier attempt at importing this statement".to_owned());
            }
        }
        BatchOutcome::Refused { refusal, .. } => {
            row.outcome = LineOutcome::Unmatched.as_str().to_owned();
            row.reason = Some(refusal_reason(refusal));
        }
        BatchOutcome::Skipped(reason) => {
            row.outcome = LineOutcome::Unmatched.as_str().to_owned();
            row.reason = Some(reason.clone());
        }
    }
}

/// Checks that a statement file is one the ledger reads and agrees with its own totals
/// (what [`import`] checks before recording anything).
pub fn check(bytes: &[u8]) -> Result<BankStatement, StatementError> {
    let statement = parse_statement(bytes)?;
    statement.check_totals()?;
    Ok(statement)
}

async fn stored_summary(ledger: &Ledger, id: &str) -> Result<Imported, StatementImportError> {
    let rows = ledger.repository().statement_lines(id, None).await?;
    Ok(Imported {
        summary: summary_of(id, &rows),
        created: false,
    })
}

fn money(value: Decimal) -> String {
    format!("{:.2}", value)
}

/// The totals of the lines as they stand.
pub fn totals_of(rows: &[StatementLineRow]) -> BankStatementTotals {
    let mut credits = 0;
    let mut debits = 0;
    let mut sums = [Decimal::ZERO; 6];
    for row in rows {
        let amount: Decimal = row.amount.parse().unwrap_or_default();
        if row.credit {
            credits += 1;
            sums[0] += amount;
        } else {
            debits += 1;
            sums[1] += amount;
        }
        let slot = match row.outcome.as_str() {
            "matched" => 2,
            "unmatched" => 3,
            "duplicate" => 4,
            _ if row.credit => 5,
            _ => continue,
        };
        sums[slot] += amount;
    }
    BankStatementTotals {
        credits,
        credits_sum: money(sums[0]),
        debits,
        debits_sum: money(sums[1]),
        matched_sum: money(sums[2]),
        unmatched_sum: money(sums[3]),
        duplicate_sum: money(sums[4]),
        reversed_credits_sum: money(sums[5]),
    }
}

fn summary_of(id: &str, rows: &[StatementLineRow]) -> BankStatementSummary {
    let count = |outcome: LineOutcome| {
        rows.iter()
            .filter(|row| row.outcome == outcome.as_str())
            .count() as u64
    };
    BankStatementSummary {
        id: id.to_owned(),
        lines: rows.len() as u64,
        matched: count(LineOutcome::Matched),
        duplicates: count(LineOutcome::Duplicate),
        unmatched: count(LineOutcome::Unmatched),
        not_a_credit: count(LineOutcome::NotACredit),
        totals: totals_of(rows),
    }
}

/// A stored statement with every line and what became of it.
pub async fn view(ledger: &Ledger, id: &str) -> Result<Option<BankStatementView>, StoreError> {
    let Some(row) = ledger.repository().statement(id).await? else {
        return Ok(None);
    };
    let lines = ledger.repository().statement_lines(id, None).await?;
    let summary = summary_of(id, &lines);
    Ok(Some(BankStatementView {
        id: summary.id,
        matched: summary.matched,
        duplicates: summary.duplicates,
        unmatched: summary.unmatched,
        not_a_credit: summary.not_a_credit,
        totals: summary.totals,
        format: row.format,
        account: row.account,
        currency: row.currency,
        statement_id: row.statement_id,
        digest: row.digest,
        received_at: row.received_at,
        received_by: row.received_by,
        imported_at: row.imported_at,
        lines: lines.into_iter().map(line_view).collect(),
    }))
}

fn line_view(row: StatementLineRow) -> BankStatementLineView {
    BankStatementLineView {
        n: row.n,
        value_date: row.value_date,
        amount: row.amount,
        currency: row.currency,
        credit: row.credit,
        reversal: row.reversal,
        payer_bin: row.payer_bin,
        payer_id_text: row.payer_id_text,
        payer_name: row.payer_name,
        purpose: row.purpose,
        bank_reference: row.bank_reference,
        outcome: row.outcome,
        reason: row.reason,
        participant_id: row.participant_id,
        invoice_number: row.invoice_number,
        payment_reference: row.payment_reference,
        assigned_at: row.assigned_at,
        assigned_by: row.assigned_by,
        assigning_to: row.assigning_to,
    }
}

/// Assigns an unmatched line by hand (INTEGRATION.md 2): records its payment on
/// `participant`'s agreement (naming `invoice` when given), and the line becomes
/// `matched`. The line is claimed first, so two different assignments never both record
/// it (the same one sent again finishes it: its payment's reference is the line's); a
/// refused payment gives the claim up. Returns what was committed and the reference.
pub async fn assign(
    ledger: &Ledger,
    id: &str,
    n: i64,
    participant: &ParticipantId,
    invoice: Option<InvoiceNumber>,
    context: &CommandContext,
) -> Result<(Committed, String), AssignmentError> {
    let repository = ledger.repository();
    if repository.statement(id).await?.is_none() {
        return Err(AssignmentError::NotFound(format!(
            "there is no bank statement {id}"
        )));
    }
    let Some(line) = repository.statement_lines(id, Some(n)).await?.pop() else {
        return Err(AssignmentError::NotFound(format!(
            "bank statement {id} has no line {n}"
        )));
    };
    if line.outcome != LineOutcome::Unmatched.as_str() {
        return Err(AssignmentError::NotUnmatched(format!(
            "line {n} of bank statement {id} is {}: only an unmatched line is assigned",
            line.outcome,
        )));
    }
    let currency = super::CurrencyCode::parse(&line.currency).and_then(|c| c.ledger());
    let Some(currency) = currency else {
        return Err(AssignmentError::Invalid(format!(
            "line {n} is in {}, which the ledger does not settle",
            line.currency
        )));
    };
    let bank_reference = PaymentReference::parse(&line.bank_reference)
        .map_err(|e| StoreError::Corrupt(format!("a stored bank reference: {e}")))?;
    let reference = payment_reference(&bank_reference);
    let payment = ReceivePayment {
        reference: reference.clone(),
        received_on: business_date::parse(&line.value_date)
            .map_err(|e| StoreError::Corrupt(format!("a stored value date: {e}")))?,
        amount: events::Amount::parse(&line.amount)
            .map_err(|e| StoreError::Corrupt(format!("a stored amount: {e}")))?,
        currency: Some(currency),
        invoice_number: invoice,
    };
    // The same bank entry recorded from another statement (on any agreement) is not
    // recorded again.
    let elsewhere = repository
        .payments_matched_elsewhere(id, &[reference.as_str().to_owned()])
        .await?;
    if let Some(recorded_on) = elsewhere.into_values().next() {
        return Err(AssignmentError::NotUnmatched(format!(
            "line {n}'s bank reference was recorded on agreement {recorded_on} from another statement: it is a duplicate"
        )));
    }
    // The claim's target: the same assignment sent again (a crash or a lost answer
    // between the claim and the line's completion) claims it again and finishes it.
    let target = match invoice {
        Some(invoice) => format!("{participant}/{invoice}"),
        None => participant.as_str().to_owned(),
    };
    if !repository
        .claim_statement_line(id, n, &context.actor, &target)
        .await?
    {
        return Err(AssignmentError::NotUnmatched(format!(
            "line {n} of bank statement {id} is being assigned to another agreement or invoice"
        )));
    }
    match ledger
        .execute(
            participant,
            AgreementCommand::ReceivePayment(payment),
            context,
        )
        .await
    {
        Ok(committed) => {
            repository
                .complete_statement_line(
                    id,
                    n,
                    participant.as_str(),
                    invoice.map(|i| i.to_string()).as_deref(),
                    reference.as_str(),
                    Some("assigned by hand"),
                )
                .await?;
            Ok((committed, reference.as_str().to_owned()))
        }
        // Refused (or never written for lost races): nothing was recorded, the line is
        // free again. Any other failure (the store lost at the commit) may have recorded
        // the payment: the claim stays, and only this same assignment, sent again,
        // finishes the line (its payment is then recognised as a repeat).
        Err(error @ (LedgerError::Refused(_) | LedgerError::ConflictRetriesExhausted { .. })) => {
            repository.release_statement_line(id, n).await?;
            Err(error.into())
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    //! The matching rules, pure: which lines become payments, with what, and why not.

    use cqrs_es::Aggregate as _;
    use events::{
        AgreementEvent, Amount, Currency, EmailAddress, ParticipantKind, ParticipantName,
        Registered,
    };
    use time::macros::date;

    use super::super::CurrencyCode;
    use super::*;

    const PAYER: &str = "120340001230";

    fn line() -> StatementLine {
        StatementLine {
            index: 0,
            bank_reference: PaymentReference::parse("HALYK-0001").unwrap(),
            value_date: date!(2026 - 12 - 01),
            amount: Amount::parse("125000.00").unwrap(),
            currency: CurrencyCode::parse("KZT").unwrap(),
            credit: true,
            reversal: false,
            payer_bin: Some(ParticipantId::parse(PAYER).unwrap()),
            payer_id_text: Some(PAYER.to_owned()),
            payer_name: Some("ТОО «Ромашка»".to_owned()),
            purpose: Some("Оплата по счёту №42 за услуги ЭДО".to_owned()),
        }
    }

    fn agreement(currency: Currency) -> ParticipantAgreement {
        let mut agreement = ParticipantAgreement::default();
        agreement.apply(AgreementEvent::Registered(Registered {
            participant_id: ParticipantId::parse(PAYER).unwrap(),
            name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
            kind: ParticipantKind::LegalEntity,
            resident: true,
            currency,
            email: EmailAddress::parse("buh@romashka.kz").unwrap(),
            registered_on: date!(2026 - 01 - 05),
        }));
        agreement
    }

    #[test]
    fn a_credit_with_a_valid_bin_goes_to_that_agreement() {
        assert_eq!(payer_of(&line()).unwrap().as_str(), PAYER);
    }

    #[test]
    fn debits_and_reversals_are_kept_but_never_payments() {
        let debit = StatementLine {
            credit: false,
            ..line()
        };
        assert_eq!(payer_of(&debit).unwrap_err().0, LineOutcome::NotACredit);
        let reversal = StatementLine {
            reversal: true,
            ..line()
        };
        let (outcome, reason) = payer_of(&reversal).unwrap_err();
        assert_eq!(outcome, LineOutcome::NotACredit);
        assert!(reason.contains("reversal"), "{reason}");
    }

    #[test]
    fn no_valid_bin_or_a_foreign_currency_is_unmatched_with_its_reason() {
        let invalid = StatementLine {
            payer_bin: None,
            payer_id_text: Some("123456789012".to_owned()),
            ..line()
        };
        let (outcome, reason) = payer_of(&invalid).unwrap_err();
        assert_eq!(outcome, LineOutcome::Unmatched);
        assert!(
            reason.contains("`123456789012` is not a valid BIN/IIN"),
            "{reason}"
        );
        let none = StatementLine {
            payer_bin: None,
            payer_id_text: None,
            ..line()
        };
        assert_eq!(payer_of(&none).unwrap_err().1, "the payer names no BIN/IIN");
        let euro = StatementLine {
            currency: CurrencyCode::parse("EUR").unwrap(),
            ..line()
        };
        let (outcome, reason) = payer_of(&euro).unwrap_err();
        assert_eq!(outcome, LineOutcome::Unmatched);
        assert!(reason.contains("EUR"), "{reason}");
    }

    #[test]
    fn the_payment_carries_the_prefixed_bank_reference_and_the_value_date() {
        let (payment, note) = payment_of(&line(), &agreement(Currency::KZT), None).unwrap();
        assert_eq!(payment.reference.as_str(), "bank:HALYK-0001");
        assert_eq!(payment.received_on, date!(2026 - 12 - 01));
        assert_eq!(payment.amount, Amount::parse("125000.00").unwrap());
        assert_eq!(payment.currency, Some(Currency::KZT));
        assert_eq!(payment.invoice_number, None);
        assert_eq!(note, None);
    }

    #[test]
    fn an_invoice_the_agreement_does_not_have_is_left_out_and_noted() {
        let named = line().named_invoice();
        assert_eq!(named, InvoiceNumber::new(42).ok());
        let (payment, note) = payment_of(&line(), &agreement(Currency::KZT), named).unwrap();
        assert_eq!(payment.invoice_number, None);
        assert!(note.unwrap().contains("invoice 42"));
    }

    #[test]
    fn no_agreement_or_another_currency_is_unmatched() {
        let reason = payment_of(&line(), &ParticipantAgreement::default(), None).unwrap_err();
        assert!(reason.contains("no agreement is registered"), "{reason}");
        let reason = payment_of(&line(), &agreement(Currency::USD), None).unwrap_err();
        assert!(reason.contains("settles in USD"), "{reason}");
    }

    #[test]
    fn a_bank_reference_too_long_for_the_prefix_is_replaced_by_its_digest() {
        let long = PaymentReference::parse(&"R".repeat(100)).unwrap();
        let reference = payment_reference(&long);
        assert!(reference.as_str().starts_with("bank:sha256:"));
        assert_eq!(reference, payment_reference(&long), "the same each time");
    }

    #[test]
    fn the_totals_add_up_by_outcome() {
        let row = |amount: &str, credit: bool, outcome: LineOutcome| StatementLineRow {
            amount: amount.to_owned(),
            credit,
            outcome: outcome.as_str().to_owned(),
            ..line_row(&line())
        };
        let totals = totals_of(&[
            row("100.00", true, LineOutcome::Matched),
            row("20.50", true, LineOutcome::Unmatched),
            row("3.00", true, LineOutcome::Duplicate),
            row("4.00", true, LineOutcome::NotACredit),
            row("7.25", false, LineOutcome::NotACredit),
        ]);
        assert_eq!(totals.credits, 4);
        assert_eq!(totals.credits_sum, "127.50");
        assert_eq!(totals.debits, 1);
        assert_eq!(totals.debits_sum, "7.25");
        assert_eq!(totals.matched_sum, "100.00");
        assert_eq!(totals.unmatched_sum, "20.50");
        assert_eq!(totals.duplicate_sum, "3.00");
        assert_eq!(totals.reversed_credits_sum, "4.00");
    }
}
