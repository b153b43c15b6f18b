-- materialized: ephemeral
-- One row per inventory move (re-exported rows dropped and counted in source_rows).
-- Never stored: each model reading it reads the landed rows once, keeping for a repeated ID only
-- the copy stg_inventory_move_copies names.
select
    landed.move_id,
    landed.checkout_id,
    landed.idempotency_key,
    landed.reservation_id,
    landed.sku,
    landed.quantity,
    lower(landed.kind) as kind,
    landed.created_at,
    coalesce(copies.source_rows, 1) as source_rows
from raw.inventory_moves as landed
left join stg_inventory_move_copies as copies on landed.move_id = copies.move_id
where
    copies.move_id is null
    or (landed._source_file = copies.kept_source_file and landed._line = copies.kept_line)
