-- uncaptured_authorization of the business date: an authorization neither captured nor voided
-- once the capture SLA has passed in the data (`as_of`, not the wall clock).
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
)

select
    authorizations.checkout_id,
    'uncaptured_authorization' as type,
    authorizations.payment_id as subject_id,
    authorizations.amount_minor,
    authorizations.currency,
    cast(to_json(struct_pack(
        payment_id := authorizations.payment_id,
        authorized_at := authorizations.created_at,
        hours_held := date_diff('hour', authorizations.created_at, context.as_of)
    )) as varchar) as details
from int_authorizations as authorizations
inner join checkouts on authorizations.checkout_id = checkouts.checkout_id
cross join context
where
    authorizations.is_held
    -- microseconds: date_diff counts unit boundaries crossed, so in seconds 29 min 59.5 s
    -- would already count as 30 min
    and date_diff('microsecond', authorizations.created_at, context.as_of)
    >= cast(context.capture_sla_hours as bigint) * 3600 * 1000000
