-- One row per succeeded authorization with what became of it: captured, voided, refunded, or
-- still held (neither captured nor voided).
with authorizations as (
    select payment_id, checkout_id, idempotency_key, amount_minor, currency, created_at
    from stg_payments
    where kind = 'authorization' and status = 'succeeded'
),

follow_ups as (
    select
        parent_payment_id,
        sum(case when kind = 'capture' then 1 else 0 end) as captures,
        sum(case when kind = 'capture' then amount_minor else 0 end) as captured_minor,
        sum(case when kind = 'void' then 1 else 0 end) as voids,
        sum(case when kind = 'refund' then amount_minor else 0 end) as refunded_minor
    from stg_payments
    where status = 'succeeded' and kind in ('capture', 'void', 'refund')
    group by parent_payment_id
)

select
    authorizations.payment_id,
    authorizations.checkout_id,
    authorizations.idempotency_key,
    authorizations.amount_minor,
    authorizations.currency,
    authorizations.created_at,
    coalesce(follow_ups.captures, 0) as captures,
    coalesce(follow_ups.captured_minor, 0) as captured_minor,
    coalesce(follow_ups.voids, 0) > 0 as is_voided,
    coalesce(follow_ups.refunded_minor, 0) as refunded_minor,
    coalesce(follow_ups.captures, 0) = 0 and coalesce(follow_ups.voids, 0) = 0 as is_held
from authorizations
left join follow_ups
    on authorizations.payment_id = follow_ups.parent_payment_id
