-- payment_without_order of the business date: per checkout and currency, money kept (captures
-- above refunds) or held (an authorization neither captured nor voided) with no open order.
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

kept as (
    select ledger.checkout_id, ledger.currency, ledger.captured_minor, ledger.refunded_minor,
        ledger.held_minor
    from int_payment_ledger as ledger
    where
        (ledger.captured_minor > ledger.refunded_minor or ledger.held_minor > 0)
        and not exists (
            select 1
            from int_checkout_orders as open_orders
            where open_orders.checkout_id = ledger.checkout_id and open_orders.open_order_count > 0
        )
)

select
    kept.checkout_id,
    'payment_without_order' as type,
    concat(kept.checkout_id, ':', kept.currency) as subject_id,
    greatest(kept.captured_minor - kept.refunded_minor, 0) + kept.held_minor as amount_minor,
    kept.currency,
    cast(to_json(struct_pack(
        captured_minor := kept.captured_minor,
        refunded_minor := kept.refunded_minor,
        held_minor := kept.held_minor,
        cancelled_orders := coalesce(orders.cancelled_order_count, 0)
    )) as varchar) as details
from kept
inner join checkouts on kept.checkout_id = checkouts.checkout_id
left join int_checkout_orders as orders on kept.checkout_id = orders.checkout_id
