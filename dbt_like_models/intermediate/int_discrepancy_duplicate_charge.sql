-- duplicate_charge candidates of the business date: >= 2 succeeded captures, or >= 2 authorizations
-- not voided, for one checkout. Two phases: find the checkouts with more than one first (counts
-- only), then count keys and amounts for those few.
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

repeated as (
    select checkout_id
    from stg_payments
    where kind = 'capture' and status = 'succeeded'
    group by checkout_id
    having count(*) >= 2
    union
    select checkout_id
    from int_authorizations
    where not is_voided
    group by checkout_id
    having count(*) >= 2
),

candidates as (
    select repeated.checkout_id
    from repeated
    inner join checkouts on repeated.checkout_id = checkouts.checkout_id
),

captures as (
    select
        payments.checkout_id,
        count(*) as capture_count,
        count(distinct payments.idempotency_key) as capture_keys,
        sum(payments.amount_minor) as captured_minor,
        max(payments.amount_minor) as largest_minor,
        min(payments.currency) as currency
    from stg_payments as payments
    inner join candidates on payments.checkout_id = candidates.checkout_id
    where payments.kind = 'capture' and payments.status = 'succeeded'
    group by payments.checkout_id
),

live_authorizations as (
    select
        authorizations.checkout_id,
        count(*) as authorization_count,
        count(distinct authorizations.idempotency_key) as authorization_keys,
        sum(authorizations.amount_minor) as authorized_minor,
        max(authorizations.amount_minor) as largest_minor,
        min(authorizations.currency) as currency
    from int_authorizations as authorizations
    inner join candidates on authorizations.checkout_id = candidates.checkout_id
    where not authorizations.is_voided
    group by authorizations.checkout_id
)

select
    candidates.checkout_id,
    'duplicate_charge' as type,
    candidates.checkout_id as subject_id,
    case
        when coalesce(captures.capture_count, 0) >= 2
            then captures.captured_minor - captures.largest_minor
        else live_authorizations.authorized_minor - live_authorizations.largest_minor
    end as amount_minor,
    coalesce(captures.currency, live_authorizations.currency) as currency,
    cast(to_json(struct_pack(
        captures := coalesce(captures.capture_count, 0),
        capture_keys := coalesce(captures.capture_keys, 0),
        live_authorizations := coalesce(live_authorizations.authorization_count, 0),
        authorization_keys := coalesce(live_authorizations.authorization_keys, 0)
    )) as varchar) as details
from candidates
left join captures on candidates.checkout_id = captures.checkout_id
left join live_authorizations on candidates.checkout_id = live_authorizations.checkout_id
