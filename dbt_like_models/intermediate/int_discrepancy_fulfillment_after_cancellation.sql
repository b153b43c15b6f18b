-- fulfillment_after_cancellation of the business date: a fulfillment requested or shipped for a
-- cancelled order, or for a checkout whose payment was voided or fully refunded. The few
-- fulfillments concerned are found first; the money behind them is summed for those only.
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

unpaid as (
    select checkout_id
    from int_payment_ledger
    group by checkout_id
    having
        (
            sum(authorization_count) > 0
            and sum(voided_authorization_count) = sum(authorization_count)
            and sum(captured_minor) = 0
        )
        or (sum(captured_minor) > 0 and sum(refunded_minor) >= sum(captured_minor))
),

cancelled as (
    select order_id from stg_orders where status = 'cancelled'
),

flagged as (
    select fulfillments.fulfillment_id, fulfillments.checkout_id, fulfillments.order_id,
        fulfillments.status
    from stg_fulfillments as fulfillments
    where
        fulfillments.status in ('requested', 'shipped')
        and (
            fulfillments.order_id in (select cancelled.order_id from cancelled)
            or fulfillments.checkout_id in (select unpaid.checkout_id from unpaid)
        )
),

money as (
    select
        ledger.checkout_id,
        sum(ledger.authorization_count) as authorization_count,
        sum(ledger.voided_authorization_count) as voided_authorization_count,
        sum(ledger.captured_minor) as captured_minor,
        sum(ledger.refunded_minor) as refunded_minor
    from int_payment_ledger as ledger
    where ledger.checkout_id in (select flagged.checkout_id from flagged)
    group by ledger.checkout_id
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
inner join checkouts on flagged.checkout_id = checkouts.checkout_id
left join stg_orders as orders on flagged.order_id = orders.order_id
left join money on flagged.checkout_id = money.checkout_id
