-- Succeeded captures of the read window that no charge line settles yet, per currency and age on
-- the settlement clock (the latest instant of the provider's reports, never the wall clock, as
-- capture_not_settled reads it): under 1 day, 1-2 days, 2-3 days (3 included), over 3 days
-- within the SLA (only when the SLA is longer) and beyond the SLA, the captures
-- capture_not_settled reports on their own dates. A capture newer than the clock counts as under
-- 1 day. Without the provider's reports there is no clock and no rows: nothing can be said to
-- wait.
with context as (
    select business_date, settlement_as_of, settlement_sla_days from int_run_context
),

charged as (
    select distinct lines.payment_id
    from int_settlement_lines as lines
    where lines.line_type = 'charge' and lines.payment_id is not null
),

waiting as (
    select
        payments.currency,
        payments.amount_minor,
        date_diff('microsecond', payments.created_at, context.settlement_as_of) as age_us,
        cast(86400 as bigint) * 1000000 as day_us,
        cast(context.settlement_sla_days as bigint) * 86400 * 1000000 as sla_us
    from stg_payments as payments
    cross join context
    left join charged on payments.payment_id = charged.payment_id
    where
        payments.kind = 'capture'
        and payments.status = 'succeeded'
        and context.settlement_as_of is not null
        and charged.payment_id is null
),

-- Beyond the SLA first, by capture_not_settled's comparison, so the last bucket is that rule's.
aged as (
    select
        currency,
        amount_minor,
        case
            when age_us > sla_us then 5
            when age_us < day_us then 1
            when age_us < 2 * day_us then 2
            when age_us <= 3 * day_us then 3
            else 4
        end as age_bucket_no
    from waiting
)

select
    context.business_date,
    aged.currency,
    aged.age_bucket_no,
    case aged.age_bucket_no
        when 1 then 'under 1 day'
        when 2 then '1-2 days'
        when 3 then '2-3 days'
        when 4 then 'over 3 days, within the SLA'
        else 'beyond the SLA'
    end as age_bucket,
    context.settlement_sla_days,
    count(*) as captures,
    sum(aged.amount_minor) as amount_minor
from aged
cross join context
group by context.business_date, aged.currency, aged.age_bucket_no, context.settlement_sla_days
