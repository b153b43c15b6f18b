-- materialized: ephemeral
-- One row per settlement line of the provider's report (a re-exported line dropped and counted in
-- source_rows), with the line type lower-cased, the currency upper-cased and the UTC date it
-- settled on: the business date of a finding about a line no checkout explains. payment_kind is
-- the kind of payment a line names by its psp_reference: a capture for a charge, a chargeback or
-- its reversal, a refund for a refund line, none for the provider's fees and adjustments.
-- deduplicated: raw.settlements by settlement_line_id, kept rows from stg_settlement_line_copies
select
    settlement_line_id,
    payout_id,
    psp_reference,
    lower(line_type) as line_type,
    case
        when lower(line_type) in ('charge', 'chargeback', 'chargeback_reversal') then 'capture'
        when lower(line_type) = 'refund' then 'refund'
    end as payment_kind,
    gross_minor,
    fee_minor,
    net_minor,
    upper(currency) as currency,
    settled_at,
    cast(settled_at as date) as settled_on,
    source_rows
from deduplicated
