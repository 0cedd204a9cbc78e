//! `AgreementLedger`: the stored projection of one agreement, and every as-of query on it.
//!
//! The projection keeps what the queries need, dated: the agreement's header after each
//! event that changed it, and the money-moving facts (invoices, payments, advances,
//! charges, waivers) with their business dates. A query as of a date folds the facts up
//! to that date into an [`AgreementPosition`] and lets time-based accruals (§5.9) run to
//! that date. So the cost of a query is proportional to that agreement's events, and the
//! answer is the same whether the ledger was stored and loaded or rebuilt by replay.
//!
//! "As of a date" means: the facts whose effective date is on or before the end of that
//! day, from everything recorded (`known_at` cuts what is recorded). The facts are kept
//! in effective-date order, so that is a prefix of them: a payment recorded late (the
//! only entry that may be dated before the agreement's latest business date, §5.5) takes
//! its place by `received_on`, and the fold never depends on arrival order (BILLING.md
//! 5.1). The header (status, restrictions) is history as it happened: dated by the
//! running maximum of business dates, which also keeps a signing dated before
//! registration (§3.2) in place.
//!
//! Here: the ledger itself, how an event changes it, its header as of a date and the
//! position it folds. Each query's answer lives with its subject (`balance`, `invoices`,
//! `penalties`, `statement`, `journal`, `aging`, `explanation`), its stored form in
//! `stored`.

use serde::{Deserialize, Serialize};
use time::Date;

use aggregates::{AgreementStatus, ParticipantAgreement};
use cqrs_es::{Aggregate, EventEnvelope};
use events::{AgreementEvent, Currency};

use crate::error::ProjectionError;
use crate::facts::DatedFact;
use crate::position::AgreementPosition;
use crate::recording::facts_of;
use crate::views::{AgreementHeader, AgreementView};

/// The agreement's header (status, dates, reasons) from a date on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedHeader {
    pub since: Date,
    pub sequence: u64,
    pub header: AgreementHeader,
}

/// The stored projection of one agreement (a cqrs-es `View`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgreementLedger {
    /// The last event sequence applied.
    pub version: u64,
    /// The latest business date seen (the running maximum).
    pub ledger_date: Option<Date>,
    /// The agreement as its events make it now: what the next header is computed from.
    pub agreement: ParticipantAgreement,
    /// Each version of the header, oldest first.
    pub headers: Vec<DatedHeader>,
    /// The money-moving facts, in effective-date order (then event order).
    pub facts: Vec<DatedFact>,
}

impl cqrs_es::View<ParticipantAgreement> for AgreementLedger {
    fn update(&mut self, event: &EventEnvelope<ParticipantAgreement>) {
        let sequence = u64::try_from(event.sequence).unwrap_or(u64::MAX);
        self.apply(sequence, &event.payload);
    }
}

impl AgreementLedger {
    /// Folds a whole history.
    pub fn from_events<'a>(events: impl IntoIterator<Item = (u64, &'a AgreementEvent)>) -> Self {
        let mut ledger = Self::default();
        for (sequence, event) in events {
            ledger.apply(sequence, event);
        }
        ledger
    }

    /// Applies the event recorded under `sequence`. Events arrive in order, once each: an
    /// event at or below the version already applied is ignored, so a redelivery never
    /// counts twice.
    pub fn apply(&mut self, sequence: u64, event: &AgreementEvent) {
        if sequence <= self.version {
            return;
        }
        let on = match self.ledger_date {
            Some(latest) if latest > event.business_date() => latest,
            _ => event.business_date(),
        };
        self.ledger_date = Some(on);
        self.version = sequence;
        // The facts are read against the agreement before the event (a payment's
        // allocation needs its invoices' issue dates). A history whose amounts do not
        // add up was refused when recorded; should one be read, its fact is left out
        // (`replay --check` and the audit then show the difference).
        match facts_of(event, &self.agreement, &self.facts) {
            Ok(facts) => {
                for (effective_on, fact) in facts {
                    let at = self
                        .facts
                        .partition_point(|f| (f.on, f.sequence) <= (effective_on, sequence));
                    self.facts.insert(
                        at,
                        DatedFact {
                            sequence,
                            on: effective_on,
                            fact,
                        },
                    );
                }
            }
            Err(error) => debug_assert!(false, "a recorded payment does not add up: {error}"),
        }
        self.agreement.apply(event.clone());

        if let Some(header) = AgreementHeader::of(&self.agreement) {
            if self.headers.last().map(|h| &h.header) != Some(&header) {
                self.headers.push(DatedHeader {
                    since: on,
                    sequence,
                    header,
                });
            }
        }
    }

    pub fn participant_id(&self) -> Option<String> {
        self.agreement
            .registration()
            .map(|r| r.participant_id.to_string())
    }

    pub fn currency(&self) -> Option<Currency> {
        self.agreement.currency()
    }

    /// The status after every recorded event (= as of today, as no event is future-dated).
    pub fn status(&self) -> Option<AgreementStatus> {
        self.agreement.status()
    }

    /// The agreement's header as of the end of `as_of`.
    pub fn header_as_of(&self, as_of: Date) -> Result<&AgreementHeader, ProjectionError> {
        self.headers
            .iter()
            .rev()
            .find(|h| h.since <= as_of)
            .map(|h| &h.header)
            .ok_or(ProjectionError::NotRegisteredAsOf(as_of))
    }

    /// `GET /v1/agreements/{id}` as of the end of `as_of`.
    pub fn agreement_as_of(&self, as_of: Date) -> Result<AgreementView, ProjectionError> {
        let header = self.header_as_of(as_of)?.clone();
        let position = self.position(as_of)?;
        Ok(AgreementView {
            header,
            advance: position.advance,
        })
    }

    pub(crate) fn registered_currency(&self, as_of: Date) -> Result<Currency, ProjectionError> {
        Ok(self.header_as_of(as_of)?.currency)
    }

    /// The money position as of the end of `as_of`: the facts up to that day, folded.
    pub fn position(&self, as_of: Date) -> Result<AgreementPosition, ProjectionError> {
        let currency = self.registered_currency(as_of)?;
        AgreementPosition::fold(
            currency,
            self.facts.iter().take_while(|fact| fact.on <= as_of),
        )
    }
}
