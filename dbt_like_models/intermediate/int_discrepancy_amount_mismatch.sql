-- amount_mismatch of the business date: a checkout with one open order and succeeded captures
-- whose sum (in the order's currency) or currency differs from the order's total, beyond the
-- tolerance; never a checkout already reported as a duplicate_charge. Captures are summed per
-- checkout against the order's total and currency first; the order's ID is looked up only for the
-- few checkouts that differ.
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

single_orders as (
    select checkout_id, open_total_minor, open_currency
    from int_checkout_orders
    where open_order_count = 1
),

captured_vs_order as (
    select
        orders.checkout_id,
        min(orders.open_total_minor) as open_total_minor,
        min(orders.open_currency) as open_currency,
        sum(
            case when ledger.currency = orders.open_currency then ledger.captured_minor else 0 end
        ) as captured_minor,
        sum(case when ledger.currency <> orders.open_currency then 1 else 0 end)
            as foreign_currencies
    from single_orders as orders
    inner join int_payment_ledger as ledger on orders.checkout_id = ledger.checkout_id
    where ledger.capture_count > 0
    group by orders.checkout_id
),

differing as (
    select compared.*
    from captured_vs_order as compared
    cross join context
    where
        (
            abs(compared.captured_minor - compared.open_total_minor)
            > context.amount_tolerance_minor
            or compared.foreign_currencies > 0
        )
        and not exists (
            select 1
            from int_discrepancy_duplicate_charge as duplicate_charge
            where duplicate_charge.checkout_id = compared.checkout_id
        )
)

select
    differing.checkout_id,
    'amount_mismatch' as type,
    orders.open_order_id as subject_id,
    abs(differing.captured_minor - differing.open_total_minor) as amount_minor,
    differing.open_currency as currency,
    cast(to_json(struct_pack(
        order_id := orders.open_order_id,
        order_total_minor := differing.open_total_minor,
        captured_minor := differing.captured_minor,
        captures_in_other_currencies := differing.foreign_currencies
    )) as varchar) as details
from differing
inner join checkouts on differing.checkout_id = checkouts.checkout_id
inner join int_checkout_orders as orders on differing.checkout_id = orders.checkout_id
