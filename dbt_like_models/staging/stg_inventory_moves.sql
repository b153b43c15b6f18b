-- materialized: ephemeral
-- One row per inventory move (re-exported rows dropped and counted in source_rows).
-- deduplicated: raw.inventory_moves by move_id, kept rows from stg_inventory_move_copies
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
