-- Money per checkout and currency, from succeeded payments only: authorised, still held,
-- captured, voided and refunded sums, with the counts the duplicate rules need.
with movements as (
    select
        checkout_id,
        currency,
        sum(case when kind = 'authorization' then amount_minor else 0 end) as authorized_minor,
        sum(case when kind = 'capture' then amount_minor else 0 end) as captured_minor,
        sum(case when kind = 'void' then amount_minor else 0 end) as voided_minor,
        sum(case when kind = 'refund' then amount_minor else 0 end) as refunded_minor,
        sum(case when kind = 'capture' then 1 else 0 end) as capture_count,
        sum(case when kind = 'refund' then 1 else 0 end) as refund_count
    from stg_payments
    where status = 'succeeded'
    group by checkout_id, currency
),

authorization_states as (
    select
        checkout_id,
        currency,
        count(*) as authorization_count,
        sum(case when is_voided then 0 else 1 end) as unvoided_authorization_count,
        sum(case when is_voided then 1 else 0 end) as voided_authorization_count,
        sum(case when is_held then 1 else 0 end) as held_authorization_count,
        sum(case when is_held then amount_minor else 0 end) as held_minor
    from int_authorizations
    group by checkout_id, currency
)

select
    movements.checkout_id,
    movements.currency,
    movements.authorized_minor,
    coalesce(authorization_states.held_minor, 0) as held_minor,
    movements.captured_minor,
    movements.voided_minor,
    movements.refunded_minor,
    movements.capture_count,
    movements.refund_count,
    coalesce(authorization_states.authorization_count, 0) as authorization_count,
    coalesce(authorization_states.unvoided_authorization_count, 0)
        as unvoided_authorization_count,
    coalesce(authorization_states.voided_authorization_count, 0) as voided_authorization_count,
    coalesce(authorization_states.held_authorization_count, 0) as held_authorization_count
from movements
left join authorization_states
    on
        movements.checkout_id = authorization_states.checkout_id
        and movements.currency = authorization_states.currency
