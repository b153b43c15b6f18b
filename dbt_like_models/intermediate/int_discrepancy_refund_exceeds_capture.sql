-- refund_exceeds_capture of the business date: per checkout and currency, refunds summing above
-- captures.
with context as (
    select * from int_run_context
),

checkouts as (
    select spine.checkout_id
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
)

select
    ledger.checkout_id,
    'refund_exceeds_capture' as type,
    concat(ledger.checkout_id, ':', ledger.currency) as subject_id,
    ledger.refunded_minor - ledger.captured_minor as amount_minor,
    ledger.currency,
    cast(to_json(struct_pack(
        captured_minor := ledger.captured_minor,
        refunded_minor := ledger.refunded_minor,
        refunds := ledger.refund_count
    )) as varchar) as details
from int_payment_ledger as ledger
inner join checkouts on ledger.checkout_id = checkouts.checkout_id
where ledger.refunded_minor > ledger.captured_minor
