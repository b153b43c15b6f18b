-- order_without_payment of the business date: an open order whose checkout has no succeeded
-- capture and no authorization still held. Orders are matched against the paid checkouts first;
-- the authorization counts shown are summed for the few orders left.
with paid_checkouts as (
    select checkout_key
    from int_payment_ledger
    where capture_count > 0 or held_authorization_count > 0
),

unpaid_orders as (
    select open_orders.checkout_id, open_orders.checkout_key, open_orders.order_id,
        open_orders.total_minor, open_orders.currency
    from stg_orders as open_orders
    anti join paid_checkouts on open_orders.checkout_key = paid_checkouts.checkout_key
    where open_orders.status = 'placed'
),

money as (
    select
        ledger.checkout_key,
        sum(ledger.authorization_count) as authorization_count,
        sum(ledger.voided_authorization_count) as voided_authorization_count
    from int_payment_ledger as ledger
    where ledger.checkout_key in (select unpaid_orders.checkout_key from unpaid_orders)
    group by ledger.checkout_key
)

select
    unpaid_orders.checkout_id,
    'order_without_payment' as type,
    unpaid_orders.order_id as subject_id,
    unpaid_orders.total_minor as amount_minor,
    unpaid_orders.currency,
    cast(to_json(struct_pack(
        order_id := unpaid_orders.order_id,
        authorizations := coalesce(money.authorization_count, 0),
        voided_authorizations := coalesce(money.voided_authorization_count, 0)
    )) as varchar) as details
from unpaid_orders
inner join int_checkouts_of_day as checkouts on unpaid_orders.checkout_key = checkouts.checkout_key
left join money on unpaid_orders.checkout_key = money.checkout_key
