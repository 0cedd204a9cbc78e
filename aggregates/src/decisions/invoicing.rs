//! Issuing an invoice (§5.1, §5.3-§5.8, §5.11, §10.3): its lines, VAT (by its turnover
//! date, BILLING.md 6), due date and rate, and the advance that settles it on issue.

use rust_decimal::Decimal;

use commands::{IssueInvoice, INVOICE_LINES_MAX};
use events::{
    AdvanceApplied, AgreementEvent, Currency, DayKind, DueRule, InvoiceIssued, InvoiceKind,
    InvoiceLine, Money, SettledPart, UsdRate, VatApplied,
};

use crate::agreement::ParticipantAgreement;
use crate::{AgreementError, AgreementServices};

/// §5.4: a subscription invoice is due 5 banking days after its issue date.
pub const SUBSCRIPTION_DUE_BANKING_DAYS: u32 = 5;
/// §5.8: an invoice for services on credit is due 3 working days after its issue date.
pub const CREDIT_DUE_WORKING_DAYS: u32 = 3;

impl ParticipantAgreement {
    pub(super) fn issue_invoice(
        &self,
        command: IssueInvoice,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("invoiced")?;
        let currency = self.registered()?.currency;
        let issued_on = command.issued_on;
        // The specific rule first: an invoice dated before the agreement is in force
        // names §10.1 rather than the generic ordering of business dates.
        self.check_date_bounds("the issue date", issued_on, services)?;
        if let Some(signing) = &self.signing {
            if issued_on < signing.in_force_from {
                return Err(AgreementError::InvoiceBeforeInForce {
                    issued_on,
                    in_force_from: signing.in_force_from,
                });
            }
        }
        self.check_document_date("the issue date", issued_on, services)?;
        // §10.3: no invoice for a day after the termination's effective date.
        if let Some(termination) = &self.termination {
            if issued_on > termination.effective_on {
                return Err(AgreementError::InvoiceAfterTermination {
                    issued_on,
                    effective_on: termination.effective_on,
                });
            }
        }
        if command.lines.is_empty() {
            return Err(AgreementError::NoInvoiceLines);
        }
        if command.lines.len() > INVOICE_LINES_MAX {
            return Err(AgreementError::TooManyInvoiceLines {
                max: INVOICE_LINES_MAX,
                given: command.lines.len(),
            });
        }
        if let Some(period) = command.period {
            if period.to < period.from {
                return Err(AgreementError::PeriodReversed {
                    from: period.from,
                    to: period.to,
                });
            }
        }
        let reference = &services.reference;

        // §5.1: a USD invoice records the National Bank rate of its date, or is refused.
        let exchange_rate = match currency {
            Currency::KZT => None,
            Currency::USD => {
                let rate = reference.exchange_rates.usd_kzt_on(issued_on)?;
                Some(UsdRate {
                    kzt_per_usd: rate.kzt_per_unit,
                    date: rate.date,
                    table_version: reference
                        .exchange_rates
                        .version_for(rate.date)
                        .unwrap_or_default()
                        .to_owned(),
                })
            }
        };

        // Each line rounded once, then VAT once over the net (§5.11, DOMAIN.md).
        let mut lines = Vec::with_capacity(command.lines.len());
        let mut net = Money::zero(currency);
        for line in command.lines {
            let unit_price = line.unit_price.in_currency(currency);
            let amount = unit_price.checked_mul(line.quantity.value())?;
            net = net.checked_add(amount)?;
            lines.push(InvoiceLine {
                description: line.description,
                quantity: line.quantity,
                unit_price,
                amount,
            });
        }
        // BILLING.md 6: VAT is the rate in force on the turnover date (the service's),
        // not on the issue date: a December 2025 invoice for January 2026 carries 16%.
        let turnover_on = InvoiceIssued::turnover_date_of(issued_on, command.period.as_ref());
        let vat_rate = reference.vat.rate_on(turnover_on)?;
        let vat_amount = net.checked_mul(vat_rate.rate)?;
        let total = net.checked_add(vat_amount)?;
        if total.is_zero() {
            return Err(AgreementError::ZeroInvoice);
        }

        let (days, day_kind) = match command.kind {
            InvoiceKind::Subscription => (SUBSCRIPTION_DUE_BANKING_DAYS, DayKind::Banking),
            InvoiceKind::Credit | InvoiceKind::Usage => (CREDIT_DUE_WORKING_DAYS, DayKind::Working),
        };
        let due_on = reference.calendar.add_working_days(issued_on, days)?;
        let number = services
            .next_invoice_number
            .ok_or(AgreementError::NoInvoiceNumberReserved)?;

        let issued = InvoiceIssued {
            number,
            kind: command.kind,
            issued_on,
            due_on,
            due_rule: DueRule {
                days,
                day_kind,
                clause: command.kind.due_clause().as_str().to_owned(),
                calendar_version: reference.calendar.versions_between(issued_on, due_on),
            },
            period: command.period,
            turnover_on: Some(turnover_on),
            lines,
            net,
            vat: VatApplied {
                rate: vat_rate.rate,
                rate_effective_from: vat_rate.effective_from,
                amount: vat_amount,
                table_version: reference
                    .vat
                    .version_for(vat_rate.effective_from)
                    .unwrap_or_default()
                    .to_owned(),
            },
            total,
            currency,
            exchange_rate,
            billing: None,
        };
        assert_invoice_adds_up(&issued);
        let mut events = vec![AgreementEvent::InvoiceIssued(issued)];

        // An advance settles the next invoice on its issue (DOMAIN.md, allocation).
        let advance = self.advance.unwrap_or(Money::zero(currency));
        if advance.is_positive() {
            let applied = advance.min(total)?;
            events.push(AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: number,
                amount: applied,
                part: SettledPart::Principal,
                on: issued_on,
                advance_remaining: advance.checked_sub(applied)?,
            }));
        }
        Ok(events)
    }
}

/// Invariant: an invoice's lines add up to its net and its net plus VAT to its total.
fn assert_invoice_adds_up(invoice: &InvoiceIssued) {
    let lines: Decimal = invoice.lines.iter().map(|line| line.amount.amount()).sum();
    assert_eq!(
        lines,
        invoice.net.amount(),
        "invoice lines must add up to the net"
    );
    assert_eq!(
        invoice.net.amount() + invoice.vat.amount.amount(),
        invoice.total.amount(),
        "net plus VAT must equal the total"
    );
}

#[cfg(test)]
mod tests;
