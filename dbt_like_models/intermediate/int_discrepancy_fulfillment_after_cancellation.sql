-- fulfillment_after_cancellation of the business date: a fulfillment requested or shipped for a
-- cancelled order, or for a checkout whose payment was voided or fully refunded. The few
-- fulfillments concerned are found first; the money behind them is summed for those only.
-- Only a checkout with a voided authorization or a refund can be unpaid: its ledger rows are
-- summed, not every checkout's.
with undone_checkouts as (
    select checkout_key
    from int_payment_ledger
    where voided_authorization_count > 0 or refunded_minor > 0
),

unpaid as (
    select ledger.checkout_key
    from int_payment_ledger as ledger
    where ledger.checkout_key in (select undone_checkouts.checkout_key from undone_checkouts)
    group by ledger.checkout_key
    having
        (
            sum(ledger.authorization_count) > 0
            and sum(ledger.voided_authorization_count) = sum(ledger.authorization_count)
            and sum(ledger.captured_minor) = 0
        )
        or (
            sum(ledger.captured_minor) > 0
            and sum(ledger.refunded_minor) >= sum(ledger.captured_minor)
        )
),

cancelled as (
    select order_id from stg_orders where status = 'cancelled'
),

flagged as (
    select fulfillments.fulfillment_id, fulfillments.checkout_id, fulfillments.checkout_key,
        fulfillments.order_id, fulfillments.status
    from stg_fulfillments as fulfillments
    where
        fulfillments.status in ('requested', 'shipped')
        and (
            fulfillments.order_id in (select cancelled.order_id from cancelled)
            or fulfillments.checkout_key in (select unpaid.checkout_key from unpaid)
        )
),

money as (
    select
        ledger.checkout_key,
        sum(ledger.authorization_count) as authorization_count,
        sum(ledger.voided_authorization_count) as voided_authorization_count,
        sum(ledger.captured_minor) as captured_minor,
        sum(ledger.refunded_minor) as refunded_minor
    from int_payment_ledger as ledger
    where ledger.checkout_key in (select flagged.checkout_key from flagged)
    group by ledger.checkout_key
),

flagged_orders as (
    select orders.order_id, orders.status, orders.total_minor, orders.currency
    from stg_orders as orders
    where orders.order_id in (select flagged.order_id from flagged)
)

select
    flagged.checkout_id,
    'fulfillment_after_cancellation' as type,
    flagged.fulfillment_id as subject_id,
    orders.total_minor as amount_minor,
    orders.currency,
    cast(to_json(struct_pack(
        fulfillment_id := flagged.fulfillment_id,
        fulfillment_status := flagged.status,
        order_id := flagged.order_id,
        order_status := orders.status,
        payment_voided := money.authorization_count > 0
        and money.voided_authorization_count = money.authorization_count,
        payment_refunded := money.captured_minor > 0
        and money.refunded_minor >= money.captured_minor
    )) as varchar) as details
from flagged
inner join int_checkouts_of_day as checkouts on flagged.checkout_key = checkouts.checkout_key
left join flagged_orders as orders on flagged.order_id = orders.order_id
left join money on flagged.checkout_key = money.checkout_key
