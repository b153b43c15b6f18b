-- The move IDs that landed more than once (a re-exported row), each with how many copies landed
-- and which copy staging keeps: the first to land. Almost every move lands once, so this stays
-- small, and stg_inventory_moves reads each landed row once and looks it up here instead of
-- ranking every row.
with repeated_ids as (
    select move_id
    from raw.inventory_moves
    group by move_id
    having count(*) > 1
),

ranked_copies as (
    select
        landed.move_id,
        landed._source_file,
        landed._line,
        count(*) over (partition by landed.move_id) as source_rows,
        row_number() over (
            partition by landed.move_id
            order by landed._landing_date, landed._source_file, landed._line
        ) as copy_rank
    from raw.inventory_moves as landed
    where landed.move_id in (select repeated_ids.move_id from repeated_ids)
)

select
    move_id,
    _source_file as kept_source_file,
    _line as kept_line,
    source_rows
from ranked_copies
where copy_rank = 1
