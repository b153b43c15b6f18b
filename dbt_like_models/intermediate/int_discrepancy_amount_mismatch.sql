-- amount_mismatch of the business date: a checkout with one open order and succeeded captures
-- whose sum (in the order's currency) or currency differs from the order's total, beyond the
-- tolerance; never a checkout already reported as a duplicate_charge.
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
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
)

select
    compared.checkout_id,
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
from captured_vs_order as compared
inner join checkouts on compared.checkout_id = checkouts.checkout_id
cross join context
where
    compared.capture_count > 0
    and (
        abs(compared.captured_minor - compared.open_total_minor)
        > context.amount_tolerance_minor
        or compared.foreign_currencies > 0
    )
    and not exists (
        select 1
        from int_discrepancy_duplicate_charge as duplicate_charge
        where duplicate_charge.checkout_id = compared.checkout_id
    )
