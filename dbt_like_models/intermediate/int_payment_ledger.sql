-- Money per checkout and currency, from succeeded payments only: held, captured and refunded
-- sums, with the counts the rules need. (Not the authorised and voided sums: nothing read them,
-- and at 10M checkouts their two 128-bit states made this grouping a third slower, 13.7-14.1 s
-- against 10.4-10.8 s.)
-- The payments and the authorizations' states are stacked and summed in one grouping: joining two
-- groupings of every checkout held both in memory at once (out of memory at 10M checkouts).
with movements as (
    select
        checkout_key,
        currency,
        case when kind = 'capture' then amount_minor else 0 end as captured_minor,
        case when kind = 'refund' then amount_minor else 0 end as refunded_minor,
        case when kind = 'capture' then 1 else 0 end as capture_count,
        case when kind = 'refund' then 1 else 0 end as refund_count,
        0 as authorization_count,
        0 as voided_authorization_count,
        0 as held_authorization_count,
        0 as held_minor
    from stg_payments
    where status = 'succeeded'
),

authorization_states as (
    select
        checkout_key,
        currency,
        0 as captured_minor,
        0 as refunded_minor,
        0 as capture_count,
        0 as refund_count,
        1 as authorization_count,
        case when is_voided then 1 else 0 end as voided_authorization_count,
        case when is_held then 1 else 0 end as held_authorization_count,
        case when is_held then amount_minor else 0 end as held_minor
    from int_authorizations
),

stacked as (
    select * from movements
    union all
    select * from authorization_states
),

per_currency as (
    select
        checkout_key,
        currency,
        sum(held_minor) as held_minor,
        sum(captured_minor) as captured_minor,
        sum(refunded_minor) as refunded_minor,
        -- Counted, not summed: a sum keeps a 128-bit state per checkout, and at 10M checkouts
        -- the grouping spilled 0.4 GB more and took a fifth longer with them.
        count(*) filter (where capture_count = 1) as capture_count,
        count(*) filter (where refund_count = 1) as refund_count,
        count(*) filter (where authorization_count = 1) as authorization_count,
        count(*) filter (where voided_authorization_count = 1) as voided_authorization_count,
        count(*) filter (where held_authorization_count = 1) as held_authorization_count,
        -- a ledger row exists for money that moved; a state alone (always with its movement) not
        count(*) filter (where authorization_count = 0) as movements
    from stacked
    group by checkout_key, currency
)

select
    checkout_key,
    currency,
    held_minor,
    captured_minor,
    refunded_minor,
    capture_count,
    refund_count,
    authorization_count,
    authorization_count - voided_authorization_count as unvoided_authorization_count,
    voided_authorization_count,
    held_authorization_count
from per_currency
where movements > 0
