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
    and date_diff('second', authorizations.created_at, context.as_of)
    >= context.capture_sla_hours * 3600
