-- duplicate_charge candidates of the business date: >= 2 succeeded captures, or >= 2 authorizations
-- not voided, for one checkout. Two phases: find the checkouts with more than one first, from the
-- ledger's counts (per checkout and currency, so summed: two captures in two currencies are two),
-- then count keys and amounts for those few. (Counting every checkout's captures and
-- authorizations again from staging made this model take half as long again at 10M checkouts.)
with repeated as (
    select checkout_key
    from int_payment_ledger
    group by checkout_key
    having sum(capture_count) >= 2 or sum(unvoided_authorization_count) >= 2
),

candidates as (
    select repeated.checkout_key
    from repeated
    inner join int_checkouts_of_day as checkouts on repeated.checkout_key = checkouts.checkout_key
),

captures as (
    select
        payments.checkout_key,
        min(payments.checkout_id) as checkout_id,
        count(*) as capture_count,
        count(distinct payments.idempotency_key) as capture_keys,
        sum(payments.amount_minor) as captured_minor,
        max(payments.amount_minor) as largest_minor,
        min(payments.currency) as currency
    from stg_payments as payments
    inner join candidates on payments.checkout_key = candidates.checkout_key
    where payments.kind = 'capture' and payments.status = 'succeeded'
    group by payments.checkout_key
),

live_authorization_keys as (
    select authorizations.payment_key
    from int_authorizations as authorizations
    inner join candidates on authorizations.checkout_key = candidates.checkout_key
    where not authorizations.is_voided
),

live_authorizations as (
    select
        payments.checkout_key,
        min(payments.checkout_id) as checkout_id,
        count(*) as authorization_count,
        count(distinct payments.idempotency_key) as authorization_keys,
        sum(payments.amount_minor) as authorized_minor,
        max(payments.amount_minor) as largest_minor,
        min(payments.currency) as currency
    from stg_payments as payments
    inner join live_authorization_keys as live
        on payments.payment_key = live.payment_key
    -- what every authorization is (int_authorizations): said again, so that the scan skips the rest
    where payments.kind = 'authorization' and payments.status = 'succeeded'
    group by payments.checkout_key
)

select
    coalesce(captures.checkout_id, live_authorizations.checkout_id) as checkout_id,
    'duplicate_charge' as type,
    coalesce(captures.checkout_id, live_authorizations.checkout_id) as subject_id,
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
left join captures on candidates.checkout_key = captures.checkout_key
left join live_authorizations on candidates.checkout_key = live_authorizations.checkout_key
