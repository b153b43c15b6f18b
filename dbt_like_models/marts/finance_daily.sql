-- Finance's day per currency: orders, ordered amount, gross revenue (captured), refunds, net
-- revenue, captured vs ordered, authorizations still held and the oldest hold, and the money
-- behind discrepancies of the types the registry marks as money (unmatched amounts).
with context as (
    select business_date, as_of from int_run_context
),

orders as (
    select
        o.currency,
        sum(case when o.status = 'placed' then 1 else 0 end) as orders,
        sum(case when o.status = 'cancelled' then 1 else 0 end) as cancelled_orders,
        sum(case when o.status = 'placed' then o.total_minor else 0 end) as ordered_minor
    from stg_orders as o
    inner join int_checkouts_of_day as checkouts on o.checkout_key = checkouts.checkout_key
    group by o.currency
),

money as (
    select
        ledger.currency,
        sum(ledger.captured_minor) as captured_minor,
        sum(ledger.refunded_minor) as refunded_minor,
        sum(ledger.held_authorization_count) as held_authorizations,
        sum(ledger.held_minor) as held_minor
    from int_payment_ledger as ledger
    inner join int_checkouts_of_day as checkouts on ledger.checkout_key = checkouts.checkout_key
    group by ledger.currency
),

holds as (
    select
        a.currency,
        max(date_diff('hour', a.created_at, context.as_of)) as oldest_hold_hours
    from int_authorizations as a
    inner join int_checkouts_of_day as checkouts on a.checkout_key = checkouts.checkout_key
    cross join context
    where a.is_held
    group by a.currency
),

unmatched as (
    select
        discrepancies.currency,
        sum(discrepancies.amount_minor) as unmatched_minor,
        count(*) as unmatched_discrepancies
    from discrepancies
    inner join seeds.discrepancy_types as types on discrepancies.type = types.type
    where types.money and discrepancies.currency is not null
    group by discrepancies.currency
),

currencies as (
    select currency from orders
    union
    select currency from money
)

select
    context.business_date,
    currencies.currency,
    coalesce(orders.orders, 0) as orders,
    coalesce(orders.cancelled_orders, 0) as cancelled_orders,
    coalesce(orders.ordered_minor, 0) as ordered_minor,
    coalesce(money.captured_minor, 0) as gross_revenue_minor,
    coalesce(money.refunded_minor, 0) as refunds_minor,
    coalesce(money.captured_minor, 0) - coalesce(money.refunded_minor, 0) as net_revenue_minor,
    coalesce(money.captured_minor, 0) - coalesce(orders.ordered_minor, 0)
        as captured_minus_ordered_minor,
    coalesce(money.held_authorizations, 0) as held_authorizations,
    coalesce(money.held_minor, 0) as held_minor,
    holds.oldest_hold_hours,
    coalesce(unmatched.unmatched_discrepancies, 0) as unmatched_discrepancies,
    coalesce(unmatched.unmatched_minor, 0) as unmatched_minor
from currencies
cross join context
left join orders on currencies.currency = orders.currency
left join money on currencies.currency = money.currency
left join holds on currencies.currency = holds.currency
left join unmatched on currencies.currency = unmatched.currency
