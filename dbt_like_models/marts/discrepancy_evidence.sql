-- The evidence of every discrepancy of the business date: the landed rows in the sources its type
-- names (seeds/discrepancy_types.csv, column evidence), each with its file and line, so that a
-- finding can be checked against the landing files themselves. The rows of the whole read window:
-- a late capture that resolved nothing is evidence too. A finding's rows are its checkout's, the
-- settlement lines of its checkout's payments (by psp_reference), and, for a finding no checkout
-- explains, its subject (a line or a payout) with a payout's lines.
with findings as (
    select
        found.discrepancy_id,
        found.checkout_id,
        found.subject_id,
        ' ' || types.evidence || ' ' as evidence_sources
    from discrepancies as found
    inner join seeds.discrepancy_types as types on found.type = types.type
),

checkout_rows as (
    select
        findings.discrepancy_id,
        findings.evidence_sources,
        records.*
    from findings
    inner join stg_landing_records as records on findings.checkout_id = records.checkout_id
),

-- Read from the payments again, not from checkout_rows: a CTE read twice is held in memory, and
-- at 10M checkouts checkout_rows (every landed row of 1.7M findings' checkouts) did not fit in
-- DuckDB's 2.5 GB memory limit; read once, it streams into the table.
checkout_references as (
    select distinct
        findings.discrepancy_id,
        findings.evidence_sources,
        records.psp_reference
    from findings
    inner join stg_landing_records as records on findings.checkout_id = records.checkout_id
    where
        records.source = 'payments'
        and records.psp_reference is not null
        and findings.evidence_sources like '% settlements %'
),

settled_rows as (
    select
        checkout_references.discrepancy_id,
        checkout_references.evidence_sources,
        records.*
    from checkout_references
    inner join stg_landing_records as records
        on
            records.source = 'settlements'
            and checkout_references.psp_reference = records.psp_reference
),

-- Two equi-joins, not one join on either condition: a join on an `or` compares every finding
-- with every landed row.
subject_rows as (
    select
        findings.discrepancy_id,
        findings.evidence_sources,
        records.*
    from findings
    inner join stg_landing_records as records on findings.subject_id = records.record_id
    where findings.checkout_id is null
),

payout_line_rows as (
    select
        findings.discrepancy_id,
        findings.evidence_sources,
        records.*
    from findings
    inner join stg_landing_records as records on findings.subject_id = records.related_id
    where findings.checkout_id is null and records.source = 'settlements'
),

found_rows as (
    select * from checkout_rows
    union all
    select * from settled_rows
    union all
    select * from subject_rows
    union all
    select * from payout_line_rows
)

select
    discrepancy_id,
    source,
    source_file,
    line,
    record_id,
    checkout_id,
    idempotency_key,
    kind,
    status,
    amount_minor,
    currency,
    utm_source,
    related_id,
    recorded_at
from found_rows
where evidence_sources like '% ' || source || ' %'
