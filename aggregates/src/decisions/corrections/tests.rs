//! Tests of the corrections: reversal, refund, void, credit note (BILLING.md 5.2-5.3).
