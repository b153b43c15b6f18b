-- duplicate_order of the business date: two or more open (not cancelled) orders for one checkout.
-- The checkout's ID is looked up for the few checkouts found.
with doubled as (
    select orders.*
    from int_checkout_orders as orders
    inner join int_checkouts_of_day as checkouts on orders.checkout_key = checkouts.checkout_key
    where orders.open_order_count >= 2
),

checkout_ids as (
    select orders.checkout_key, min(orders.checkout_id) as checkout_id
    from stg_orders as orders
    where orders.checkout_key in (select doubled.checkout_key from doubled)
    group by orders.checkout_key
)

select
    checkout_ids.checkout_id,
    'duplicate_order' as type,
    checkout_ids.checkout_id as subject_id,
    doubled.open_total_sum_minor - doubled.open_total_minor as amount_minor,
    doubled.open_currency as currency,
    cast(to_json(struct_pack(open_orders := doubled.open_order_count)) as varchar) as details
from doubled
inner join checkout_ids on doubled.checkout_key = checkout_ids.checkout_key
