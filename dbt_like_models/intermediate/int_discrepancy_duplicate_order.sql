-- duplicate_order of the business date: two or more open (not cancelled) orders for one checkout.
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
    orders.checkout_id,
    'duplicate_order' as type,
    orders.checkout_id as subject_id,
    orders.open_total_sum_minor - orders.open_total_minor as amount_minor,
    orders.open_currency as currency,
    cast(to_json(struct_pack(open_orders := orders.open_order_count)) as varchar) as details
from int_checkout_orders as orders
inner join checkouts on orders.checkout_id = checkouts.checkout_id
where orders.open_order_count >= 2
