-- One row per succeeded authorization with what became of it: voided, or still held (neither
-- captured nor voided). Keys, not IDs: the rules that name an authorization look its ID up for
-- their few rows (text in a table of every authorization cost most of it). (Not the sums captured
-- and refunded under it: nothing read them, and at 10M checkouts their 128-bit states and the
-- refunds they needed made this model take 6.2-6.8 s against 4.9 s.)
with authorizations as (
    select payment_key, checkout_key, amount_minor, currency, created_at
    from stg_payments
    where kind = 'authorization' and status = 'succeeded'
),

follow_ups as (
    select
        parent_key,
        count(*) filter (where kind = 'capture') as captures,
        count(*) filter (where kind = 'void') as voids
    from stg_payments
    where status = 'succeeded' and kind in ('capture', 'void')
    group by parent_key
)

select
    authorizations.payment_key,
    authorizations.checkout_key,
    authorizations.amount_minor,
    authorizations.currency,
    authorizations.created_at,
    coalesce(follow_ups.voids, 0) > 0 as is_voided,
    coalesce(follow_ups.captures, 0) = 0 and coalesce(follow_ups.voids, 0) = 0 as is_held
from authorizations
left join follow_ups
    on authorizations.payment_key = follow_ups.parent_key
