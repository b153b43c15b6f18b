-- The cash side of finance's day per currency, from the provider's settlement report and payouts:
-- what the day's checkouts captured, what the provider settled on the business date (gross, fee
-- and net of every line settled that day), what reached the bank (paid payouts arriving that
-- day), the fees charged on that day's lines against the fee schedule's (int_settlement_lines'
-- scheduled fee, the one fee_mismatch checks, so the two never disagree), and the captures of the
-- read window still waiting for a charge line (cash_waiting_captures). Without the provider's
-- reports (no settlement clock) it holds no rows: nothing is known of the cash side, and zeros
-- would read as "nothing settled".
with context as (
    select business_date, settlement_as_of from int_run_context
),

captured as (
    select
        payments.currency,
        count(*) as captures,
        sum(payments.amount_minor) as captured_minor
    from stg_payments as payments
    inner join int_checkouts_of_day as checkouts on payments.checkout_key = checkouts.checkout_key
    where payments.kind = 'capture' and payments.status = 'succeeded'
    group by payments.currency
),

-- Each line settled on the business date (int_settlement_lines has one row per line of the
-- report, so no line is counted twice) with the fee the schedule sets. The provider's fee and
-- adjustment lines, and currencies the schedule does not cover, have none and are not compared.
day_lines as (
    select
        lines.currency,
        lines.gross_minor,
        lines.fee_minor,
        lines.net_minor,
        lines.scheduled_fee_minor is not null as fee_scheduled,
        lines.scheduled_fee_minor
    from int_settlement_lines as lines
    cross join context
    where lines.settled_on = context.business_date
),

settled as (
    select
        currency,
        count(*) as settled_lines,
        sum(gross_minor) as settled_gross_minor,
        sum(fee_minor) as settled_fee_minor,
        sum(net_minor) as settled_net_minor,
        sum(case when fee_scheduled then 1 else 0 end) as fee_scheduled_lines,
        sum(case when fee_scheduled then fee_minor else 0 end) as fees_charged_minor,
        sum(case when fee_scheduled then scheduled_fee_minor else 0 end) as fees_scheduled_minor
    from day_lines
    group by currency
),

paid as (
    select
        payouts.currency,
        count(*) as payouts_paid,
        sum(payouts.amount_minor) as paid_out_minor
    from stg_payouts as payouts
    cross join context
    where payouts.status = 'paid' and payouts.arrival_date = context.business_date
    group by payouts.currency
),

waiting as (
    select
        currency,
        sum(captures) as waiting_captures,
        sum(amount_minor) as waiting_minor,
        sum(case when age_bucket = 'beyond the SLA' then captures else 0 end)
            as waiting_beyond_sla_captures,
        sum(case when age_bucket = 'beyond the SLA' then amount_minor else 0 end)
            as waiting_beyond_sla_minor
    from cash_waiting_captures
    group by currency
),

currencies as (
    select currency from captured
    union
    select currency from settled
    union
    select currency from paid
    union
    select currency from waiting
)

select
    context.business_date,
    currencies.currency,
    coalesce(captured.captures, 0) as captures,
    coalesce(captured.captured_minor, 0) as captured_minor,
    coalesce(settled.settled_lines, 0) as settled_lines,
    coalesce(settled.settled_gross_minor, 0) as settled_gross_minor,
    coalesce(settled.settled_fee_minor, 0) as settled_fee_minor,
    coalesce(settled.settled_net_minor, 0) as settled_net_minor,
    coalesce(paid.payouts_paid, 0) as payouts_paid,
    coalesce(paid.paid_out_minor, 0) as paid_out_minor,
    coalesce(settled.fee_scheduled_lines, 0) as fee_scheduled_lines,
    coalesce(settled.fees_charged_minor, 0) as fees_charged_minor,
    coalesce(settled.fees_scheduled_minor, 0) as fees_scheduled_minor,
    coalesce(settled.fees_charged_minor, 0) - coalesce(settled.fees_scheduled_minor, 0)
        as fees_over_schedule_minor,
    coalesce(waiting.waiting_captures, 0) as waiting_captures,
    coalesce(waiting.waiting_minor, 0) as waiting_minor,
    coalesce(waiting.waiting_beyond_sla_captures, 0) as waiting_beyond_sla_captures,
    coalesce(waiting.waiting_beyond_sla_minor, 0) as waiting_beyond_sla_minor
from currencies
cross join context
left join captured on currencies.currency = captured.currency
left join settled on currencies.currency = settled.currency
left join paid on currencies.currency = paid.currency
left join waiting on currencies.currency = waiting.currency
where context.settlement_as_of is not null
