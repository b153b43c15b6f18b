-- uncaptured_authorization of the business date: an authorization neither captured nor voided
-- once the capture SLA has passed in the data (`as_of`, not the wall clock). Its payment and
-- checkout IDs are looked up for the few found.
with context as (
    select * from int_run_context
),

overdue as (
    select authorizations.*
    from int_authorizations as authorizations
    inner join int_checkouts_of_day as checkouts on authorizations.checkout_key = checkouts.checkout_key
    cross join context
    where
        authorizations.is_held
        -- microseconds: date_diff counts unit boundaries crossed, so in seconds 29 min 59.5 s
        -- would already count as 30 min
        and date_diff('microsecond', authorizations.created_at, context.as_of)
        >= cast(context.capture_sla_hours as bigint) * 3600 * 1000000
),

overdue_ids as (
    select payments.payment_key, payments.payment_id, payments.checkout_id
    from stg_payments as payments
    where
        -- what every authorization is (int_authorizations): the scan hashes those IDs only
        payments.kind = 'authorization'
        and payments.status = 'succeeded'
        and payments.payment_key in (select overdue.payment_key from overdue)
)

select
    overdue_ids.checkout_id,
    'uncaptured_authorization' as type,
    overdue_ids.payment_id as subject_id,
    overdue.amount_minor,
    overdue.currency,
    cast(to_json(struct_pack(
        payment_id := overdue_ids.payment_id,
        authorized_at := cast(overdue.created_at as varchar),
        hours_held := date_diff('hour', overdue.created_at, context.as_of)
    )) as varchar) as details
from overdue
inner join overdue_ids on overdue.payment_key = overdue_ids.payment_key
cross join context
