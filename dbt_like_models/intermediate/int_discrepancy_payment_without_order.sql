-- payment_without_order of the business date: per checkout and currency, money kept (captures
-- above refunds) or held (an authorization neither captured nor voided) with no open order. The
-- checkout's ID is looked up for the few rows found.
with open_order_checkouts as (
    select checkout_key from int_checkout_orders where open_order_count > 0
),

kept as (
    select ledger.checkout_key, ledger.currency, ledger.captured_minor, ledger.refunded_minor,
        ledger.held_minor
    from int_payment_ledger as ledger
    anti join open_order_checkouts on ledger.checkout_key = open_order_checkouts.checkout_key
    where ledger.captured_minor > ledger.refunded_minor or ledger.held_minor > 0
),

checkout_ids as (
    select payments.checkout_key, min(payments.checkout_id) as checkout_id
    from stg_payments as payments
    where payments.checkout_key in (select kept.checkout_key from kept)
    group by payments.checkout_key
)

select
    checkout_ids.checkout_id,
    'payment_without_order' as type,
    concat(checkout_ids.checkout_id, ':', kept.currency) as subject_id,
    greatest(kept.captured_minor - kept.refunded_minor, 0) + kept.held_minor as amount_minor,
    kept.currency,
    cast(to_json(struct_pack(
        captured_minor := kept.captured_minor,
        refunded_minor := kept.refunded_minor,
        held_minor := kept.held_minor,
        cancelled_orders := coalesce(orders.cancelled_order_count, 0)
    )) as varchar) as details
from kept
inner join int_checkouts_of_day as checkouts on kept.checkout_key = checkouts.checkout_key
inner join checkout_ids on kept.checkout_key = checkout_ids.checkout_key
left join int_checkout_orders as orders on kept.checkout_key = orders.checkout_key
