-- refund_exceeds_capture of the business date: per checkout and currency, refunds summing above
-- captures. The checkout's ID is looked up for the few rows found.
with exceeding as (
    select ledger.checkout_key, ledger.currency, ledger.captured_minor, ledger.refunded_minor,
        ledger.refund_count
    from int_payment_ledger as ledger
    inner join int_checkouts_of_day as checkouts on ledger.checkout_key = checkouts.checkout_key
    where ledger.refunded_minor > ledger.captured_minor
),

checkout_ids as (
    select payments.checkout_key, min(payments.checkout_id) as checkout_id
    from stg_payments as payments
    where
        -- each has one (refunds above captures of zero or more): the scan hashes those IDs only
        payments.kind = 'refund'
        and payments.status = 'succeeded'
        and payments.checkout_key in (select exceeding.checkout_key from exceeding)
    group by payments.checkout_key
)

select
    checkout_ids.checkout_id,
    'refund_exceeds_capture' as type,
    concat(checkout_ids.checkout_id, ':', exceeding.currency) as subject_id,
    exceeding.refunded_minor - exceeding.captured_minor as amount_minor,
    exceeding.currency,
    cast(to_json(struct_pack(
        captured_minor := exceeding.captured_minor,
        refunded_minor := exceeding.refunded_minor,
        refunds := exceeding.refund_count
    )) as varchar) as details
from exceeding
inner join checkout_ids on exceeding.checkout_key = checkout_ids.checkout_key
