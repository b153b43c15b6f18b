-- materialized: ephemeral
-- One row per settlement line of the provider's report (a re-exported line dropped and counted in
-- source_rows), with the line type lower-cased, the currency upper-cased and the UTC date it
-- settled on: the business date of a finding about a line no checkout explains.
-- deduplicated: raw.settlements by settlement_line_id, kept rows from stg_settlement_line_copies
select
    settlement_line_id,
    payout_id,
    psp_reference,
    lower(line_type) as line_type,
    gross_minor,
    fee_minor,
    net_minor,
    upper(currency) as currency,
    settled_at,
    cast(settled_at as date) as settled_on,
    source_rows
from deduplicated
