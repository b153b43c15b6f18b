-- One row per inventory move (re-exported rows dropped and counted in source_rows).
-- Almost every move arrives once: only the IDs seen more than once go through the window that
-- picks their first copy (a window over every row cost twice as much).
with repeated_ids as (
    select
        move_id,
        count(*) as source_rows
    from raw.inventory_moves
    group by move_id
    having count(*) > 1
),

moves as (
    select
        move_id,
        checkout_id,
        idempotency_key,
        reservation_id,
        sku,
        quantity,
        lower(kind) as kind,
        created_at,
        _landing_date,
        _source_file,
        _line
    from raw.inventory_moves
),

single_copies as (
    select
        moves.*,
        1 as source_rows
    from moves
    where not exists (
        select 1 from repeated_ids where repeated_ids.move_id = moves.move_id
    )
),

ranked_copies as (
    select
        moves.*,
        repeated_ids.source_rows,
        row_number() over (
            partition by moves.move_id
            order by moves._landing_date, moves._source_file, moves._line
        ) as copy_rank
    from moves
    inner join repeated_ids on repeated_ids.move_id = moves.move_id
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
    kind,
    created_at,
    source_rows
from deduplicated
