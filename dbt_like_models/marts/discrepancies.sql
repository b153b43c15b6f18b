-- Every discrepancy of DESIGN.md's table for the checkouts of the business date, one row each,
-- with a deterministic discrepancy_id (md5 of type and subject) so reruns, alerts and resolutions
-- line up across days. Succeeded payments only; an "order" is a non-cancelled order.
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id, spine.business_date
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

money as (
    select
        checkout_id,
        sum(authorization_count) as authorization_count,
        sum(voided_authorization_count) as voided_authorization_count,
        sum(held_authorization_count) as held_authorization_count,
        sum(capture_count) as capture_count,
        sum(captured_minor) as captured_minor,
        sum(refunded_minor) as refunded_minor
    from int_payment_ledger
    group by checkout_id
),

captures as (
    select
        checkout_id,
        count(*) as capture_count,
        count(distinct idempotency_key) as capture_keys,
        sum(amount_minor) as captured_minor,
        max(amount_minor) as largest_minor,
        min(currency) as currency
    from stg_payments
    where kind = 'capture' and status = 'succeeded'
    group by checkout_id
),

live_authorizations as (
    select
        checkout_id,
        count(*) as authorization_count,
        count(distinct idempotency_key) as authorization_keys,
        sum(amount_minor) as authorized_minor,
        max(amount_minor) as largest_minor,
        min(currency) as currency
    from int_authorizations
    where not is_voided
    group by checkout_id
),

duplicate_charge as (
    select
        checkouts.checkout_id,
        'duplicate_charge' as type,
        checkouts.checkout_id as subject_id,
        case
            when coalesce(captures.capture_count, 0) >= 2
                then captures.captured_minor - captures.largest_minor
            else live_authorizations.authorized_minor - live_authorizations.largest_minor
        end as amount_minor,
        coalesce(captures.currency, live_authorizations.currency) as currency,
        cast(to_json(struct_pack(
            captures := coalesce(captures.capture_count, 0),
            capture_keys := coalesce(captures.capture_keys, 0),
            live_authorizations := coalesce(live_authorizations.authorization_count, 0),
            authorization_keys := coalesce(live_authorizations.authorization_keys, 0)
        )) as varchar) as details
    from checkouts
    left join captures on checkouts.checkout_id = captures.checkout_id
    left join live_authorizations on checkouts.checkout_id = live_authorizations.checkout_id
    where
        coalesce(captures.capture_count, 0) >= 2
        or coalesce(live_authorizations.authorization_count, 0) >= 2
),

payment_without_order as (
    select
        checkouts.checkout_id,
        'payment_without_order' as type,
        concat(checkouts.checkout_id, ':', ledger.currency) as subject_id,
        greatest(ledger.captured_minor - ledger.refunded_minor, 0) + ledger.held_minor
            as amount_minor,
        ledger.currency,
        cast(to_json(struct_pack(
            captured_minor := ledger.captured_minor,
            refunded_minor := ledger.refunded_minor,
            held_minor := ledger.held_minor,
            cancelled_orders := coalesce(orders.cancelled_order_count, 0)
        )) as varchar) as details
    from checkouts
    inner join int_payment_ledger as ledger on checkouts.checkout_id = ledger.checkout_id
    left join int_checkout_orders as orders on checkouts.checkout_id = orders.checkout_id
    where
        coalesce(orders.open_order_count, 0) = 0
        and (ledger.captured_minor > ledger.refunded_minor or ledger.held_minor > 0)
),

fulfillment_after_cancellation as (
    select
        checkouts.checkout_id,
        'fulfillment_after_cancellation' as type,
        fulfillments.fulfillment_id as subject_id,
        orders.total_minor as amount_minor,
        orders.currency,
        cast(to_json(struct_pack(
            fulfillment_id := fulfillments.fulfillment_id,
            fulfillment_status := fulfillments.status,
            order_id := fulfillments.order_id,
            order_status := orders.status,
            payment_voided := money.authorization_count > 0
            and money.voided_authorization_count = money.authorization_count,
            payment_refunded := money.captured_minor > 0
            and money.refunded_minor >= money.captured_minor
        )) as varchar) as details
    from checkouts
    inner join stg_fulfillments as fulfillments
        on checkouts.checkout_id = fulfillments.checkout_id
    left join stg_orders as orders on fulfillments.order_id = orders.order_id
    left join money on checkouts.checkout_id = money.checkout_id
    where
        fulfillments.status in ('requested', 'shipped')
        and (
            orders.status = 'cancelled'
            or (
                money.authorization_count > 0
                and money.voided_authorization_count = money.authorization_count
                and money.captured_minor = 0
            )
            or (money.captured_minor > 0 and money.refunded_minor >= money.captured_minor)
        )
),

refund_exceeds_capture as (
    select
        checkouts.checkout_id,
        'refund_exceeds_capture' as type,
        concat(checkouts.checkout_id, ':', ledger.currency) as subject_id,
        ledger.refunded_minor - ledger.captured_minor as amount_minor,
        ledger.currency,
        cast(to_json(struct_pack(
            captured_minor := ledger.captured_minor,
            refunded_minor := ledger.refunded_minor,
            refunds := ledger.refund_count
        )) as varchar) as details
    from checkouts
    inner join int_payment_ledger as ledger on checkouts.checkout_id = ledger.checkout_id
    where ledger.refunded_minor > ledger.captured_minor
),

duplicate_order as (
    select
        checkouts.checkout_id,
        'duplicate_order' as type,
        checkouts.checkout_id as subject_id,
        orders.open_total_sum_minor - orders.open_total_minor as amount_minor,
        orders.open_currency as currency,
        cast(to_json(struct_pack(open_orders := orders.open_order_count)) as varchar) as details
    from checkouts
    inner join int_checkout_orders as orders on checkouts.checkout_id = orders.checkout_id
    where orders.open_order_count >= 2
),

order_without_payment as (
    select
        checkouts.checkout_id,
        'order_without_payment' as type,
        open_orders.order_id as subject_id,
        open_orders.total_minor as amount_minor,
        open_orders.currency,
        cast(to_json(struct_pack(
            order_id := open_orders.order_id,
            authorizations := coalesce(money.authorization_count, 0),
            voided_authorizations := coalesce(money.voided_authorization_count, 0)
        )) as varchar) as details
    from checkouts
    inner join stg_orders as open_orders
        on checkouts.checkout_id = open_orders.checkout_id and open_orders.status = 'placed'
    left join money on checkouts.checkout_id = money.checkout_id
    where coalesce(money.capture_count, 0) = 0 and coalesce(money.held_authorization_count, 0) = 0
),

captured_vs_order as (
    select
        orders.checkout_id,
        orders.open_order_id,
        orders.open_total_minor,
        orders.open_currency,
        sum(
            case when ledger.currency = orders.open_currency then ledger.captured_minor else 0 end
        ) as captured_minor,
        sum(
            case
                when ledger.currency <> orders.open_currency and ledger.capture_count > 0 then 1
                else 0
            end
        ) as foreign_currencies,
        sum(ledger.capture_count) as capture_count
    from int_checkout_orders as orders
    inner join int_payment_ledger as ledger on orders.checkout_id = ledger.checkout_id
    where orders.open_order_count = 1
    group by orders.checkout_id, orders.open_order_id, orders.open_total_minor, orders.open_currency
),

amount_mismatch as (
    select
        checkouts.checkout_id,
        'amount_mismatch' as type,
        compared.open_order_id as subject_id,
        abs(compared.captured_minor - compared.open_total_minor) as amount_minor,
        compared.open_currency as currency,
        cast(to_json(struct_pack(
            order_id := compared.open_order_id,
            order_total_minor := compared.open_total_minor,
            captured_minor := compared.captured_minor,
            captures_in_other_currencies := compared.foreign_currencies
        )) as varchar) as details
    from checkouts
    inner join captured_vs_order as compared on checkouts.checkout_id = compared.checkout_id
    cross join context
    left join duplicate_charge on checkouts.checkout_id = duplicate_charge.checkout_id
    where
        duplicate_charge.checkout_id is null
        and compared.capture_count > 0
        and (
            abs(compared.captured_minor - compared.open_total_minor)
            > context.amount_tolerance_minor
            or compared.foreign_currencies > 0
        )
),

orphaned_reservation as (
    select
        checkouts.checkout_id,
        'orphaned_reservation' as type,
        reservations.reservation_id as subject_id,
        cast(null as bigint) as amount_minor,
        cast(null as varchar) as currency,
        cast(to_json(struct_pack(
            reservation_id := reservations.reservation_id,
            sku := reservations.sku,
            quantity := reservations.reserved_quantity,
            reserved_at := reservations.reserved_at,
            minutes_open := date_diff('minute', reservations.reserved_at, context.as_of)
        )) as varchar) as details
    from checkouts
    inner join int_reservations as reservations
        on checkouts.checkout_id = reservations.checkout_id
    cross join context
    where
        reservations.reserve_count > 0
        and not reservations.is_released
        and not reservations.is_committed
        and date_diff('second', reservations.reserved_at, context.as_of)
        >= context.reservation_ttl_minutes * 60
),

uncaptured_authorization as (
    select
        checkouts.checkout_id,
        'uncaptured_authorization' as type,
        authorizations.payment_id as subject_id,
        authorizations.amount_minor,
        authorizations.currency,
        cast(to_json(struct_pack(
            payment_id := authorizations.payment_id,
            authorized_at := authorizations.created_at,
            hours_held := date_diff('hour', authorizations.created_at, context.as_of)
        )) as varchar) as details
    from checkouts
    inner join int_authorizations as authorizations
        on checkouts.checkout_id = authorizations.checkout_id
    cross join context
    where
        authorizations.is_held
        and date_diff('second', authorizations.created_at, context.as_of)
        >= context.capture_sla_hours * 3600
),

phantom_completion as (
    select
        checkouts.checkout_id,
        'phantom_completion' as type,
        checkouts.checkout_id as subject_id,
        client.client_revenue_minor as amount_minor,
        client.client_currency as currency,
        cast(to_json(struct_pack(completion_events := client.completion_events)) as varchar)
            as details
    from checkouts
    inner join int_client_events as client on checkouts.checkout_id = client.checkout_id
    left join int_checkout_orders as orders on checkouts.checkout_id = orders.checkout_id
    where client.completion_events > 0 and orders.checkout_id is null
),

duplicate_starts as (
    select
        checkouts.checkout_id,
        'duplicate_analytics_event' as type,
        concat(checkouts.checkout_id, ':checkout_started') as subject_id,
        cast(null as bigint) as amount_minor,
        cast(null as varchar) as currency,
        cast(to_json(struct_pack(
            event_name := 'checkout_started', events := client.start_events
        )) as varchar) as details
    from checkouts
    inner join int_client_events as client on checkouts.checkout_id = client.checkout_id
    where client.start_events > 1
),

duplicate_completions as (
    select
        checkouts.checkout_id,
        'duplicate_analytics_event' as type,
        concat(checkouts.checkout_id, ':checkout_completed') as subject_id,
        client.client_revenue_minor * (client.completion_events - 1) as amount_minor,
        client.client_currency as currency,
        cast(to_json(struct_pack(
            event_name := 'checkout_completed', events := client.completion_events
        )) as varchar) as details
    from checkouts
    inner join int_client_events as client on checkouts.checkout_id = client.checkout_id
    where client.completion_events > 1
),

unattributed_revenue as (
    select
        checkouts.checkout_id,
        'unattributed_revenue' as type,
        open_orders.order_id as subject_id,
        open_orders.total_minor as amount_minor,
        open_orders.currency,
        cast(to_json(struct_pack(
            reason := case
                when coalesce(client.completion_events, 0) = 0 then 'no_client_event'
                else 'no_utm'
            end,
            order_id := open_orders.order_id,
            server_utm_source := open_orders.utm_source,
            server_utm_campaign := open_orders.utm_campaign
        )) as varchar) as details
    from checkouts
    inner join stg_orders as open_orders
        on checkouts.checkout_id = open_orders.checkout_id and open_orders.status = 'placed'
    left join int_client_events as client on checkouts.checkout_id = client.checkout_id
    where
        open_orders.utm_source is not null
        and coalesce(client.attributed_completion_events, 0) = 0
),

found as (
    select * from duplicate_charge
    union all
    select * from payment_without_order
    union all
    select * from fulfillment_after_cancellation
    union all
    select * from refund_exceeds_capture
    union all
    select * from duplicate_order
    union all
    select * from order_without_payment
    union all
    select * from amount_mismatch
    union all
    select * from orphaned_reservation
    union all
    select * from uncaptured_authorization
    union all
    select * from phantom_completion
    union all
    select * from duplicate_starts
    union all
    select * from duplicate_completions
    union all
    select * from unattributed_revenue
)

select
    md5(concat(found.type, ':', found.subject_id)) as discrepancy_id,
    found.type,
    case
        when
            found.type in (
                'duplicate_charge',
                'payment_without_order',
                'fulfillment_after_cancellation',
                'refund_exceeds_capture'
            )
            then 'critical'
        when found.type in ('duplicate_order', 'order_without_payment', 'amount_mismatch')
            then 'high'
        when found.type in ('orphaned_reservation', 'uncaptured_authorization') then 'medium'
        else 'low'
    end as severity,
    found.checkout_id,
    found.amount_minor,
    found.currency,
    checkouts.business_date,
    found.details,
    found.subject_id
from found
inner join checkouts on found.checkout_id = checkouts.checkout_id
