-- duplicate_order of the business date: two or more open (not cancelled) orders for one checkout.
-- The checkout's orders are read again for the few checkouts found. Amounts are never added
-- across currencies: the open orders beyond the one kept are summed in their own currency. The one
-- kept is the largest in the checkout's currency (int_checkout_orders.open_currency, the
-- alphabetically last of its open orders'). A checkout ordered in one currency gives one finding
-- named by the checkout; one ordered in several gives one per currency with orders beyond the one
-- kept, named `checkout:currency`.
-- int_discrepancy_duplicate_charge splits its amounts by currency the same way: change the
-- two together.
with doubled as (
    select orders.*
    from int_checkout_orders as orders
    inner join int_checkouts_of_day as checkouts on orders.checkout_key = checkouts.checkout_key
    where orders.open_order_count >= 2
),

per_currency as (
    select
        orders.checkout_key,
        orders.currency,
        min(orders.checkout_id) as checkout_id,
        sum(orders.total_minor) as open_minor,
        max(orders.total_minor) as largest_minor
    from stg_orders as orders
    where
        orders.status = 'placed'
        and orders.checkout_key in (select doubled.checkout_key from doubled)
    group by orders.checkout_key, orders.currency
),

spread as (
    select
        checkout_key,
        count(*) as currencies
    from per_currency
    group by checkout_key
),

extra as (
    select
        per_currency.checkout_id,
        per_currency.currency,
        spread.currencies,
        doubled.open_order_count,
        case
            when per_currency.currency = doubled.open_currency
                then per_currency.open_minor - per_currency.largest_minor
            else per_currency.open_minor
        end as amount_minor
    from per_currency
    inner join spread on per_currency.checkout_key = spread.checkout_key
    inner join doubled on per_currency.checkout_key = doubled.checkout_key
)

select
    extra.checkout_id,
    'duplicate_order' as type,
    case
        when extra.currencies = 1 then extra.checkout_id
        else extra.checkout_id || ':' || extra.currency
    end as subject_id,
    extra.amount_minor,
    extra.currency,
    cast(to_json(struct_pack(open_orders := extra.open_order_count)) as varchar) as details
from extra
where extra.currencies = 1 or extra.amount_minor > 0
