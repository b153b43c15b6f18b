-- The evidence of every discrepancy of the business date: the landed rows of its checkout in the
-- sources its type names (seeds/discrepancy_types.csv, column evidence), each with its file and
-- line, so that a finding can be checked against the landing files themselves. The rows of the
-- whole read window: a late capture that resolved nothing is evidence too.
with findings as (
    select
        found.discrepancy_id,
        found.checkout_id,
        ' ' || types.evidence || ' ' as evidence_sources
    from discrepancies as found
    inner join seeds.discrepancy_types as types on found.type = types.type
    where found.checkout_id is not null
)

select
    findings.discrepancy_id,
    records.source,
    records.source_file,
    records.line,
    records.record_id,
    records.checkout_id,
    records.idempotency_key,
    records.kind,
    records.status,
    records.amount_minor,
    records.currency,
    records.utm_source,
    records.related_id,
    records.recorded_at
from findings
inner join stg_landing_records as records
    on
        records.checkout_id = findings.checkout_id
        and findings.evidence_sources like '% ' || records.source || ' %'
