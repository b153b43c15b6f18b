-- capture_not_settled of the business date: a succeeded capture of the day's checkouts with no
-- charge line once the settlement clock (the latest instant of the provider's reports, never the
-- wall clock) is the SLA's number of days past the capture's date. Counted in dates, as the
-- provider settles in daily runs: with the read window as long as the SLA, every capture of the
-- day is judged once the report of its last day lands, whatever its hour. Without settlement
-- reports the clock is null and nothing is found: a report that stops arriving is
-- export_arrived's to catch.
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
        and date_diff(
            'day', cast(payments.created_at as date), cast(context.settlement_as_of as date)
        ) >= context.settlement_sla_days
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
        days_waiting := date_diff(
            'day', cast(overdue_captures.created_at as date), cast(context.settlement_as_of as date)
        )
    )) as varchar) as details
from overdue_captures
cross join context
where not exists (
    select 1 from settled where settled.payment_id = overdue_captures.payment_id
)
