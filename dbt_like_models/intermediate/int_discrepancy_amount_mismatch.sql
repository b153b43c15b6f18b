-- amount_mismatch of the business date: a checkout with one open order and succeeded captures
-- whose sum (in the order's currency) or currency differs from the order's total, beyond the
-- tolerance of the order's currency (meta.tolerances); never a checkout already reported as a
-- duplicate_charge. A ledger row holds one
-- currency's captures, so a checkout differs exactly when one of its rows is in another currency
-- or holds a sum other than the total: those few rows are found first, then summed and the order
-- looked up for their checkouts only.
with single_orders as (
    select checkout_key, open_total_minor, open_currency
    from int_checkout_orders
    where open_order_count = 1
),

differing_checkouts as (
    select distinct orders.checkout_key
    from single_orders as orders
    inner join int_payment_ledger as ledger on orders.checkout_key = ledger.checkout_key
    where
        ledger.capture_count > 0
        and (
            ledger.currency <> orders.open_currency
            or ledger.captured_minor <> orders.open_total_minor
        )
),

captured_vs_order as (
    select
        orders.checkout_key,
        min(orders.open_total_minor) as open_total_minor,
        min(orders.open_currency) as open_currency,
        sum(
            case when ledger.currency = orders.open_currency then ledger.captured_minor else 0 end
        ) as captured_minor,
        sum(case when ledger.currency <> orders.open_currency then 1 else 0 end)
            as foreign_currencies
    from single_orders as orders
    inner join int_payment_ledger as ledger on orders.checkout_key = ledger.checkout_key
    where
        ledger.capture_count > 0
        and orders.checkout_key in (select differing_checkouts.checkout_key from differing_checkouts)
    group by orders.checkout_key
),

differing as (
    select compared.*
    from captured_vs_order as compared
    inner join meta.tolerances as tolerance
        on tolerance.rule = 'amount_mismatch' and compared.open_currency = tolerance.currency
    where
        (
            compared.foreign_currencies > 0
            or (
                abs(compared.captured_minor - compared.open_total_minor)
                > tolerance.absolute_minor
                and abs(compared.captured_minor - compared.open_total_minor) * 1000000
                > tolerance.relative_ppm * compared.open_total_minor
            )
        )
        and not exists (
            select 1
            from int_discrepancy_duplicate_charge as duplicate_charge
            where surrogate_key(duplicate_charge.checkout_id) = compared.checkout_key
        )
)

select
    open_orders.checkout_id,
    'amount_mismatch' as type,
    open_orders.order_id as subject_id,
    abs(differing.captured_minor - differing.open_total_minor) as amount_minor,
    differing.open_currency as currency,
    cast(to_json(struct_pack(
        order_id := open_orders.order_id,
        order_total_minor := differing.open_total_minor,
        captured_minor := differing.captured_minor,
        captures_in_other_currencies := differing.foreign_currencies
    )) as varchar) as details
from differing
inner join int_checkouts_of_day as checkouts on differing.checkout_key = checkouts.checkout_key
-- the checkout's one open order
inner join stg_orders as open_orders
    on differing.checkout_key = open_orders.checkout_key and open_orders.status = 'placed'
