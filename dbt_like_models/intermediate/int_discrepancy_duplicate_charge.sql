-- duplicate_charge candidates of the business date: >= 2 succeeded captures, or >= 2 authorizations
-- not voided, for one checkout. Two phases: find the checkouts with more than one first, from the
-- ledger's counts (per checkout and currency, so summed: two captures in two currencies are two),
-- then count keys and amounts for those few. (Counting every checkout's captures and
-- authorizations again from staging made this model take half as long again at 10M checkouts.)
-- Amounts are never added across currencies: the payments beyond the one kept are summed in each
-- currency they were made in. The one kept is the largest in the checkout's currency (its open
-- orders', int_checkout_orders.open_currency, when a counted payment is in it; otherwise the
-- alphabetically first of the payments'). A checkout paid in one currency (every real checkout)
-- gives one finding named by the checkout; one paid in several gives one per currency with money
-- beyond the one kept, named `checkout:currency`.
-- int_discrepancy_duplicate_order splits its amounts by currency the same way: change the
-- two together.
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

capture_rows as (
    select
        payments.checkout_key,
        payments.checkout_id,
        payments.idempotency_key,
        payments.amount_minor,
        payments.currency
    from stg_payments as payments
    inner join candidates on payments.checkout_key = candidates.checkout_key
    where payments.kind = 'capture' and payments.status = 'succeeded'
),

live_authorization_keys as (
    select authorizations.payment_key
    from int_authorizations as authorizations
    inner join candidates on authorizations.checkout_key = candidates.checkout_key
    where not authorizations.is_voided
),

authorization_rows as (
    select
        payments.checkout_key,
        payments.checkout_id,
        payments.idempotency_key,
        payments.amount_minor,
        payments.currency
    from stg_payments as payments
    inner join live_authorization_keys as live
        on payments.payment_key = live.payment_key
    -- what every authorization is (int_authorizations): said again, so that the scan skips the rest
    where payments.kind = 'authorization' and payments.status = 'succeeded'
),

captures as (
    select
        checkout_key,
        count(*) as capture_count,
        count(distinct idempotency_key) as capture_keys
    from capture_rows
    group by checkout_key
),

live_authorizations as (
    select
        checkout_key,
        count(*) as authorization_count,
        count(distinct idempotency_key) as authorization_keys
    from authorization_rows
    group by checkout_key
),

-- The payments that make the duplicate: the captures where there are two or more, otherwise the
-- authorizations not voided.
counted as (
    select
        capture_rows.checkout_key,
        capture_rows.checkout_id,
        capture_rows.amount_minor,
        capture_rows.currency
    from capture_rows
    inner join captures on capture_rows.checkout_key = captures.checkout_key
    where captures.capture_count >= 2
    union all
    select
        authorization_rows.checkout_key,
        authorization_rows.checkout_id,
        authorization_rows.amount_minor,
        authorization_rows.currency
    from authorization_rows
    left join captures on authorization_rows.checkout_key = captures.checkout_key
    where coalesce(captures.capture_count, 0) < 2
),

per_currency as (
    select
        checkout_key,
        currency,
        min(checkout_id) as checkout_id,
        sum(amount_minor) as counted_minor,
        max(amount_minor) as largest_minor
    from counted
    group by checkout_key, currency
),

-- Which currency keeps its largest payment: a checkout paid in one currency, that one; one paid in
-- several (rare: only then are its orders read), its open orders' when a counted payment is in
-- it, otherwise the alphabetically first.
spread as (
    select
        checkout_key,
        count(*) as currencies,
        min(currency) as first_currency
    from per_currency
    group by checkout_key
),

-- the open order's currency, where a counted payment is in it
order_currency as (
    select
        spread.checkout_key,
        per_currency.currency
    from spread
    inner join int_checkout_orders as orders on spread.checkout_key = orders.checkout_key
    inner join per_currency
        on
            spread.checkout_key = per_currency.checkout_key
            and orders.open_currency = per_currency.currency
    where spread.currencies > 1
),

checkout_currency as (
    select
        spread.checkout_key,
        spread.currencies,
        coalesce(order_currency.currency, spread.first_currency) as currency
    from spread
    left join order_currency on spread.checkout_key = order_currency.checkout_key
),

extra as (
    select
        per_currency.checkout_key,
        per_currency.checkout_id,
        per_currency.currency,
        checkout_currency.currencies,
        case
            when per_currency.currency = checkout_currency.currency
                then per_currency.counted_minor - per_currency.largest_minor
            else per_currency.counted_minor
        end as amount_minor
    from per_currency
    inner join checkout_currency on per_currency.checkout_key = checkout_currency.checkout_key
)

select
    extra.checkout_id,
    'duplicate_charge' as type,
    case
        when extra.currencies = 1 then extra.checkout_id
        else extra.checkout_id || ':' || extra.currency
    end as subject_id,
    extra.amount_minor,
    extra.currency,
    cast(to_json(struct_pack(
        captures := coalesce(captures.capture_count, 0),
        capture_keys := coalesce(captures.capture_keys, 0),
        live_authorizations := coalesce(live_authorizations.authorization_count, 0),
        authorization_keys := coalesce(live_authorizations.authorization_keys, 0)
    )) as varchar) as details
from extra
left join captures on extra.checkout_key = captures.checkout_key
left join live_authorizations on extra.checkout_key = live_authorizations.checkout_key
where extra.currencies = 1 or extra.amount_minor > 0
