-- materialized: ephemeral
-- One row per payout (its latest row), with the status lower-cased, the currency upper-cased and
-- the UTC date it arrives: the business date of a payout's finding.
-- deduplicated: raw.payouts by payout_id, kept rows from stg_payout_versions
select
    payout_id,
    amount_minor,
    upper(currency) as currency,
    lower(status) as status,
    cast(arrival_date as date) as arrival_date,
    created_at,
    source_rows
from deduplicated
