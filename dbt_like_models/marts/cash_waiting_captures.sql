-- Succeeded captures of the read window that no charge line settles yet, per currency and age on
-- the settlement clock (the latest instant of the provider's reports, never the wall clock, as
-- capture_not_settled reads it), in dates as that rule counts them: captured on the clock's date
-- (or after it), 1 day, 2 days, 3 days or more within the SLA (only when the SLA is longer) and
-- beyond the SLA: the captures that rule reports on their own dates. Without the provider's
-- reports there is no clock and no rows: nothing can be said to wait.
with context as (
    select business_date, settlement_as_of, settlement_sla_days from int_run_context
),

charged as (
    select lines.payment_id
    from int_settlement_lines as lines
    where lines.line_type = 'charge' and lines.payment_id is not null
),

waiting as (
    select
        payments.currency,
        payments.amount_minor,
        date_diff(
            'day', cast(payments.created_at as date), cast(context.settlement_as_of as date)
        ) as age_days,
        context.settlement_sla_days
    from stg_payments as payments
    cross join context
    anti join charged on payments.payment_id = charged.payment_id
    where
        payments.kind = 'capture'
        and payments.status = 'succeeded'
        and context.settlement_as_of is not null
),

-- Beyond the SLA first, by capture_not_settled's comparison, so the last bucket is that rule's.
aged as (
    select
        currency,
        amount_minor,
        case
            when age_days >= settlement_sla_days then 5
            when age_days <= 0 then 1
            when age_days = 1 then 2
            when age_days = 2 then 3
            else 4
        end as age_bucket_no
    from waiting
)

select
    context.business_date,
    aged.currency,
    aged.age_bucket_no,
    case aged.age_bucket_no
        when 1 then 'same day'
        when 2 then '1 day'
        when 3 then '2 days'
        when 4 then '3 days or more, within the SLA'
        else 'beyond the SLA'
    end as age_bucket,
    context.settlement_sla_days,
    count(*) as captures,
    sum(aged.amount_minor) as amount_minor
from aged
cross join context
group by context.business_date, aged.currency, aged.age_bucket_no, context.settlement_sla_days
