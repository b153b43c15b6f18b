-- The baseline's money rules as one query (bench/baseline.py, money_sql). A Python format
-- string: each name in single braces is replaced by a reader of the landing files, and
-- doubled braces stand for one literal brace of DuckDB's struct syntax.
-- Succeeded authorizations not captured or voided from their own checkout alone: held (no
-- capture or void at all), or named by a capture or void of another checkout. Few; found for
-- every checkout first, so that the plain test below can leave authorizations out.
with unusual_authorizations as (
    select
        auth.payment_id,
        auth.checkout_id,
        follow_up.checkout_id as follow_up_checkout_id
    from {payments} as auth
    left join (
        select parent_payment_id, checkout_id
        from {payments}
        where lower(kind) in ('capture', 'void') and lower(status) = 'succeeded'
    ) as follow_up on auth.payment_id = follow_up.parent_payment_id
    where
        lower(auth.kind) = 'authorization'
        and lower(auth.status) = 'succeeded'
        and (
            follow_up.checkout_id is null or follow_up.checkout_id <> auth.checkout_id
        )
),

held_authorizations as (
    select payment_id from unusual_authorizations where follow_up_checkout_id is null
),

-- Each succeeded payment but authorizations, stacked with the orders, with its part in the
-- plain happy path: 1 for a placed order, 2 for a capture, 4 for any other row (a cancelled
-- order, a void, a refund). Two rows whose parts make 3 are one of each. Payments that did
-- not succeed count for nothing.
orders_and_payments as (
    select
        checkout_id,
        upper(currency) as currency,
        case when lower(status) = 'placed' then 1 else 4 end as part,
        total_minor as amount_minor
    from {orders}
    union all
    select
        checkout_id,
        upper(currency),
        case when lower(kind) = 'capture' then 2 else 4 end,
        case when lower(kind) = 'capture' then amount_minor end
    from {payments}
    where lower(status) = 'succeeded' and lower(kind) <> 'authorization'
),

-- Every checkout but the plain happy path (one order, placed, and one capture of its total in
-- its currency, no other succeeded payment but authorizations), and every checkout with an
-- unusual authorization. A plain checkout breaks no money rule, its only authorization being
-- the one its capture names, so the rules below read only the few others. Grouping by
-- currency too costs less than comparing currencies; a null in the test makes a candidate.
candidates as (
    select checkout_id
    from orders_and_payments
    group by checkout_id, currency
    having not coalesce(
        count(*) = 2
        and sum(part) = 3
        and max(amount_minor) - min(amount_minor) <= $amount_tolerance_minor,
        false
    )
    union
    select checkout_id from unusual_authorizations
    union
    select follow_up_checkout_id from unusual_authorizations
    where follow_up_checkout_id is not null
),

-- From here on, the pipeline's staging and intermediate logic on the candidates only.
candidate_orders as (
    select order_id, latest.checkout_id, latest.status, latest.currency, latest.total_minor
    from (
        select
            order_id,
            arg_max(
                {{
                    'checkout_id': checkout_id,
                    'status': lower(status),
                    'currency': upper(currency),
                    'total_minor': total_minor
                }},
                {latest_version}
            ) as latest
        from {orders_lineage}
        where checkout_id in (select checkout_id from candidates)
        group by order_id
    )
),

-- Copies of one payment are the same row: one per ID (a grouping on the ID alone costs
-- almost nothing here, a distinct over every column doubled the step).
succeeded_payments as (
    select
        payment_id,
        any_value(checkout_id) as checkout_id,
        any_value(lower(kind)) as kind,
        any_value(amount_minor) as amount_minor,
        any_value(upper(currency)) as currency,
        any_value(created_at) as created_at,
        any_value(parent_payment_id) as parent_payment_id
    from {payments}
    where
        lower(status) = 'succeeded'
        and checkout_id in (select checkout_id from candidates)
    group by payment_id
),

-- A void of a candidate's authorization is a candidate's row: plain checkouts have none, and
-- a void from another checkout made that one a candidate too.
voided_authorizations as (
    select distinct parent_payment_id as payment_id
    from succeeded_payments
    where kind = 'void'
),

authorizations as (
    select
        checkout_id,
        currency,
        amount_minor,
        created_at,
        payment_id in (select payment_id from voided_authorizations) as is_voided,
        payment_id in (select payment_id from held_authorizations) as is_held
    from succeeded_payments
    where kind = 'authorization'
),

movements as (
    select
        checkout_id,
        currency,
        coalesce(sum(amount_minor) filter (kind = 'capture'), 0) as captured_minor,
        coalesce(sum(amount_minor) filter (kind = 'refund'), 0) as refunded_minor,
        count(*) filter (kind = 'capture') as capture_count
    from succeeded_payments
    group by checkout_id, currency
),

authorization_states as (
    select
        checkout_id,
        currency,
        count(*) as authorization_count,
        count(*) filter (is_voided) as voided_authorization_count,
        count(*) filter (is_held) as held_authorization_count,
        coalesce(sum(amount_minor) filter (is_held), 0) as held_minor
    from authorizations
    group by checkout_id, currency
),

ledger as (
    select
        movements.*,
        coalesce(states.authorization_count, 0) as authorization_count,
        coalesce(states.voided_authorization_count, 0) as voided_authorization_count,
        coalesce(states.held_authorization_count, 0) as held_authorization_count,
        coalesce(states.held_minor, 0) as held_minor
    from movements
    left join authorization_states as states using (checkout_id, currency)
),

checkout_orders as (
    select
        checkout_id,
        count(*) filter (status = 'placed') as open_order_count,
        max(total_minor) filter (status = 'placed') as open_total_minor,
        max(currency) filter (status = 'placed') as open_currency
    from candidate_orders
    group by checkout_id
),

duplicate_charges as (
    select checkout_id
    from succeeded_payments
    where kind = 'capture'
    group by checkout_id
    having count(*) >= 2
    union
    select checkout_id
    from authorizations
    where not is_voided
    group by checkout_id
    having count(*) >= 2
),

open_order_checkouts as (
    select checkout_id from checkout_orders where open_order_count > 0
),

paid_checkouts as (
    select checkout_id
    from ledger
    where capture_count > 0 or held_authorization_count > 0
),

captured_vs_order as (
    select
        orders.checkout_id,
        min(orders.open_total_minor) as open_total_minor,
        sum(ledger.captured_minor) filter (ledger.currency = orders.open_currency)
            as captured_minor,
        count(*) filter (ledger.currency <> orders.open_currency) as foreign_currencies
    from checkout_orders as orders
    inner join ledger on orders.checkout_id = ledger.checkout_id
    where orders.open_order_count = 1 and ledger.capture_count > 0
    group by orders.checkout_id
),

cancelled_orders as (
    select order_id from candidate_orders where status = 'cancelled'
),

unpaid_checkouts as (
    select checkout_id
    from ledger
    group by checkout_id
    having
        (
            sum(authorization_count) > 0
            and sum(voided_authorization_count) = sum(authorization_count)
            and sum(captured_minor) = 0
        )
        or (sum(captured_minor) > 0 and sum(refunded_minor) >= sum(captured_minor))
),

-- The fulfillments about a cancelled order or an unpaid checkout: few, so only their versions
-- are ranked (a fulfillment's versions keep its order and checkout).
latest_fulfillments as (
    select latest.checkout_id, latest.status
    from (
        select
            fulfillment_id,
            arg_max(
                {{'checkout_id': checkout_id, 'status': lower(status)}},
                {latest_version}
            ) as latest
        from {fulfillments_lineage}
        where
            order_id in (select order_id from cancelled_orders)
            or checkout_id in (select checkout_id from unpaid_checkouts)
        group by fulfillment_id
    )
)

select checkout_id, 'duplicate_charge' as type from duplicate_charges

union all
select checkout_id, 'payment_without_order' from ledger
where
    (captured_minor > refunded_minor or held_minor > 0)
    and checkout_id not in (select checkout_id from open_order_checkouts)

union all
select checkout_id, 'refund_exceeds_capture' from ledger
where refunded_minor > captured_minor

union all
select checkout_id, 'duplicate_order' from checkout_orders
where open_order_count >= 2

union all
select checkout_id, 'order_without_payment' from candidate_orders
where status = 'placed' and checkout_id not in (select checkout_id from paid_checkouts)

union all
select checkout_id, 'amount_mismatch' from captured_vs_order
where
    (
        abs(coalesce(captured_minor, 0) - open_total_minor) > $amount_tolerance_minor
        or foreign_currencies > 0
    )
    and checkout_id not in (select checkout_id from duplicate_charges)

union all
select checkout_id, 'uncaptured_authorization' from authorizations
where is_held and created_at <= $as_of - to_hours($capture_sla_hours)

union all
select checkout_id, 'fulfillment_after_cancellation' from latest_fulfillments
where status in ('requested', 'shipped')
