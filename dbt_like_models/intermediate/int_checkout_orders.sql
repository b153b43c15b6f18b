-- Orders per checkout. "Open" orders are those not cancelled; the open_* columns describe the
-- open order when there is exactly one (the only case amount_mismatch looks at). No order ID here:
-- a text value per checkout doubled the cost of this grouping at 10M checkouts, and the rules
-- that name an order look it up for their few checkouts.
select
    checkout_key,
    count(*) filter (where status = 'placed') as open_order_count,
    count(*) filter (where status = 'cancelled') as cancelled_order_count,
    max(currency) filter (where status = 'placed') as open_currency,
    max(total_minor) filter (where status = 'placed') as open_total_minor,
    coalesce(sum(total_minor) filter (where status = 'placed'), 0) as open_total_sum_minor
from stg_orders
group by checkout_key
