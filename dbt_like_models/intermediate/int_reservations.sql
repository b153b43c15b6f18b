-- materialized: ephemeral
-- One row per inventory reservation with how it ended: released, committed, or still open.
select
    reservation_id,
    min(checkout_id) as checkout_id,
    min(case when kind = 'reserve' then created_at end) as reserved_at,
    sum(case when kind = 'reserve' then 1 else 0 end) as reserve_count,
    sum(case when kind = 'release' then 1 else 0 end) > 0 as is_released,
    sum(case when kind = 'commit' then 1 else 0 end) > 0 as is_committed,
    min(sku) as sku,
    sum(case when kind = 'reserve' then quantity else 0 end) as reserved_quantity
from stg_inventory_moves
group by reservation_id
