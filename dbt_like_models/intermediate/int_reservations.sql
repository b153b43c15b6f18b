-- materialized: ephemeral
-- One row per inventory reservation with how it ended: released, committed, or still open.
-- Keyed by reservation_key; the rule that names a reservation looks its IDs up for its few rows.
select
    reservation_key,
    min(created_at) filter (where kind = 'reserve') as reserved_at,
    count(*) filter (where kind = 'reserve') as reserve_count,
    count(*) filter (where kind = 'release') > 0 as is_released,
    count(*) filter (where kind = 'commit') > 0 as is_committed,
    coalesce(sum(quantity) filter (where kind = 'reserve'), 0) as reserved_quantity
from stg_inventory_moves
group by reservation_key
