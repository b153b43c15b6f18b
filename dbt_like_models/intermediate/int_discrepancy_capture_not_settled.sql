-- capture_not_settled of the business date: a succeeded capture of the day's checkouts older than
-- the settlement SLA on the settlement clock (the latest instant of the provider's reports, never
-- the wall clock) with no charge line. Without settlement reports the clock is null and nothing is
-- found: a report that stops arriving is export_arrived's to catch.
with context as (
    select * from int_run_context
),

overdue_captures as (
    select
        payments.payment_id,
        payments.checkout_id,
        payments.amount_minor,
        payments.currency,
        payments.created_at
    from stg_payments as payments
    inner join int_checkouts_of_day as checkouts on payments.checkout_key = checkouts.checkout_key
    cross join context
    where
        payments.kind = 'capture'
        and payments.status = 'succeeded'
        and date_diff('microsecond', payments.created_at, context.settlement_as_of)
        > cast(context.settlement_sla_days as bigint) * 86400 * 1000000
),

settled as (
    select lines.payment_id
    from int_settlement_lines as lines
    where lines.line_type = 'charge' and lines.payment_id is not null
)

select
    overdue_captures.checkout_id,
    'capture_not_settled' as type,
    overdue_captures.payment_id as subject_id,
    overdue_captures.amount_minor,
    overdue_captures.currency,
    cast(to_json(struct_pack(
        payment_id := overdue_captures.payment_id,
        captured_at := cast(overdue_captures.created_at as varchar),
        settlement_as_of := cast(context.settlement_as_of as varchar),
        days_waiting := date_diff('day', overdue_captures.created_at, context.settlement_as_of)
    )) as varchar) as details
from overdue_captures
cross join context
where not exists (
    select 1 from settled where settled.payment_id = overdue_captures.payment_id
)
