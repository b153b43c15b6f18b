-- One row per inventory move (re-exported rows dropped and counted in source_rows).
-- Almost every move arrives once: only the IDs seen more than once go through the window that picks
-- their first copy (a window over every row cost twice as much). Each CTE reads the raw table
-- itself and values are normalised last: a CTE read twice is materialised, which spilled gigabytes
-- at 10M.
with repeated_ids as (
    select
        move_id,
        count(*) as source_rows
    from raw.inventory_moves
    group by move_id
    having count(*) > 1
),

single_copies as (
    select
        landed.*,
        1 as source_rows
    from raw.inventory_moves as landed
    where not exists (
        select 1 from repeated_ids where repeated_ids.move_id = landed.move_id
    )
),

ranked_copies as (
    select
        landed.*,
        repeated_ids.source_rows,
        row_number() over (
            partition by landed.move_id
            order by landed._landing_date, landed._source_file, landed._line
        ) as copy_rank
    from raw.inventory_moves as landed
    inner join repeated_ids on repeated_ids.move_id = landed.move_id
),

first_copies as (
    select * exclude (copy_rank) from ranked_copies where copy_rank = 1
),

deduplicated as (
    select * from single_copies
    union all
    select * from first_copies
)

select
    move_id,
    checkout_id,
    idempotency_key,
    reservation_id,
    sku,
    quantity,
    lower(kind) as kind,
    created_at,
    source_rows
from deduplicated
