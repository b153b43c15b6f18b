-- materialized: ephemeral
-- One row per inventory move (re-exported rows dropped and counted in source_rows).
-- Never stored: each model reading it reads the landed rows of IDs that landed once, and the
-- copy stg_inventory_move_copies names of the others, an anti-join that costs next to nothing
-- when none repeats (a left join of every row to it, then a filter, misled the planner into
-- running out of memory at 10M).
with single_rows as (
    select landed.*, 1 as source_rows
    from raw.inventory_moves as landed
    anti join stg_inventory_move_copies as copies on landed.move_id = copies.move_id
),

kept_copies as (
    select landed.*, copies.source_rows
    from raw.inventory_moves as landed
    inner join stg_inventory_move_copies as copies
        on
            landed.move_id = copies.move_id
            and landed._source_file = copies.kept_source_file
            and landed._line = copies.kept_line
),

deduplicated as (
    select * from single_rows
    union all
    select * from kept_copies
)

select
    move_id,
    checkout_id,
    surrogate_key(checkout_id) as checkout_key,
    idempotency_key,
    reservation_id,
    surrogate_key(reservation_id) as reservation_key,
    sku,
    quantity,
    lower(kind) as kind,
    created_at,
    source_rows
from deduplicated
