-- One row per succeeded authorization with what became of it: captured, voided, refunded, or
-- still held (neither captured nor voided). Keys, not IDs: the rules that name an authorization
-- look its ID up for their few rows (text in a table of every authorization cost most of it).
with authorizations as (
    select payment_key, checkout_key, amount_minor, currency, created_at
    from stg_payments
    where kind = 'authorization' and status = 'succeeded'
),

follow_ups as (
    select
        parent_key,
        count(*) filter (where kind = 'capture') as captures,
        sum(amount_minor) filter (where kind = 'capture') as captured_minor,
        count(*) filter (where kind = 'void') as voids,
        sum(amount_minor) filter (where kind = 'refund') as refunded_minor
    from stg_payments
    where status = 'succeeded' and kind in ('capture', 'void', 'refund')
    group by parent_key
)

select
    authorizations.payment_key,
    authorizations.checkout_key,
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
    on authorizations.payment_key = follow_ups.parent_key
