-- Orders per checkout. "Open" orders are those not cancelled; the open_* columns describe the
-- open order when there is exactly one (the only case amount_mismatch looks at).
select
    checkout_id,
    count(*) as order_count,
    sum(case when status = 'placed' then 1 else 0 end) as open_order_count,
    sum(case when status = 'cancelled' then 1 else 0 end) as cancelled_order_count,
    max(case when status = 'placed' then order_id end) as open_order_id,
    max(case when status = 'placed' then currency end) as open_currency,
    max(case when status = 'placed' then total_minor end) as open_total_minor,
    sum(case when status = 'placed' then total_minor else 0 end) as open_total_sum_minor
from stg_orders
group by checkout_id
