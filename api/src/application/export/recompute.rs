//! Recomputing the figures offline from a verified export.

use super::*;

/// One agreement's figures as of a date, as the API answers them: the agreement, its
/// balance, invoices, penalties and its statement from registration to that date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementFigures {
    pub participant_id: String,
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    pub agreement: AgreementView,
    pub balance: BalanceView,
    pub invoices: Vec<InvoiceStatusView>,
    pub penalties: Vec<PenaltyView>,
    pub statement: StatementView,
}

/// What [`recompute`] went through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecomputeSummary {
    pub agreements: u64,
    /// Agreements in the export not yet registered on the date.
    pub not_registered: u64,
    pub events: u64,
}

/// The figures of one agreement's folded events, as of `as_of`; `None` when it was not
/// registered yet on that date.
pub fn figures(
    ledger: &AgreementLedger,
    as_of: Date,
    reference: &ReferenceData,
) -> Result<Option<AgreementFigures>, projections::ProjectionError> {
    let agreement = match ledger.agreement_as_of(as_of) {
        Ok(view) => view,
        Err(projections::ProjectionError::NotRegisteredAsOf(_)) => return Ok(None),
        Err(other) => return Err(other),
    };
    let registered_on = agreement.header.registered_on;
    Ok(Some(AgreementFigures {
        participant_id: agreement.header.participant_id.clone(),
        as_of,
        balance: ledger.balance(as_of, reference)?,
        invoices: ledger.invoices(as_of, reference)?,
        penalties: ledger.penalties(as_of, reference)?,
        statement: ledger.statement(registered_on, as_of)?,
        agreement,
    }))
}

/// The reference tables an export carries: the fold of its reference stream (the
/// versions in force when it was taken), or `None` for an export written before the
/// reference stream existed. Reads the whole file; checks nothing else.
pub fn reference_of_export(input: impl BufRead) -> Result<Option<ReferenceData>, ExportError> {
    let mut reader = ExportReader::new(input);
    reader.header()?;
    let mut versions = Vec::new();
    while let Some(line) = reader.next_line()? {
        let ExportLine::Event(event) = line else {
            continue;
        };
        if event.is_reference() {
            versions.push(event.reference_version().map_err(|e| {
                reader.format_error(format!("a reference event cannot be read: {e}"))
            })?);
        }
    }
    if versions.is_empty() {
        return Ok(None);
    }
    Ok(Some(ReferenceData::from_recorded(&versions)))
}

/// Folds each agreement's events from a (verified) export and hands its figures as of
/// `as_of` to `visit`, one agreement at a time: memory holds one agreement. With
/// `participant`, only that agreement's.
pub fn recompute(
    input: impl BufRead,
    as_of: Date,
    participant: Option<&str>,
    reference: &ReferenceData,
    mut visit: impl FnMut(AgreementFigures) -> Result<(), ExportError>,
) -> Result<RecomputeSummary, ExportError> {
    let mut reader = ExportReader::new(input);
    reader.header()?;
    let mut summary = RecomputeSummary::default();
    let mut current: Option<(String, AgreementLedger)> = None;
    let mut finish = |current: Option<(String, AgreementLedger)>,
                      summary: &mut RecomputeSummary|
     -> Result<(), ExportError> {
        let Some((id, ledger)) = current else {
            return Ok(());
        };
        match figures(&ledger, as_of, reference).map_err(|e| ExportError::Format {
            line: 0,
            message: format!("{id}: {e}"),
        })? {
            Some(found) => {
                summary.agreements += 1;
                visit(found)
            }
            None => {
                summary.not_registered += 1;
                Ok(())
            }
        }
    };
    while let Some(line) = reader.next_line()? {
        let ExportLine::Event(event) = line else {
            continue;
        };
        if event.is_operator() || participant.is_some_and(|p| p != event.aggregate_id) {
            continue;
        }
        let decoded = event
            .decode()
            .map_err(|e| reader.format_error(format!("the event cannot be read: {e}")))?;
        if current.as_ref().map(|(id, _)| id) != Some(&event.aggregate_id) {
            finish(current.take(), &mut summary)?;
            current = Some((event.aggregate_id.clone(), AgreementLedger::default()));
        }
        let sequence = u64::try_from(event.sequence)
            .map_err(|_| reader.format_error("a negative sequence"))?;
        if let Some((_, ledger)) = current.as_mut() {
            ledger.apply(sequence, &decoded);
        }
        summary.events += 1;
    }
    finish(current.take(), &mut summary)?;
    Ok(summary)
}

// ---------------------------------------------------------------------------------------
