-- One row per inventory move (re-exported rows dropped and counted in source_rows).
with copies as (
    select
        move_id,
        checkout_id,
        idempotency_key,
        reservation_id,
        sku,
        quantity,
        lower(kind) as kind,
        created_at,
        row_number() over (
            partition by move_id
            order by _landing_date, _source_file, _line
        ) as copy_rank,
        count(*) over (partition by move_id) as source_rows
    from raw.inventory_moves
)

select
    move_id,
    checkout_id,
    idempotency_key,
    reservation_id,
    sku,
    quantity,
    kind,
    created_at,
    source_rows
from copies
where copy_rank = 1
