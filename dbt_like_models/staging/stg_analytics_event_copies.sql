-- The event IDs the collector delivered more than once, each with how many copies landed and
-- which copy staging keeps: the first to land. Almost every event lands once, so this stays small,
-- and stg_analytics_events reads each landed row once and looks it up here instead of ranking
-- every row.
with repeated_ids as (
    select event_id
    from raw.analytics_events
    group by event_id
    having count(*) > 1
),

ranked_copies as (
    select
        landed.event_id,
        landed._source_file,
        landed._line,
        count(*) over (partition by landed.event_id) as source_rows,
        row_number() over (
            partition by landed.event_id
            order by landed._landing_date, landed._source_file, landed._line
        ) as copy_rank
    from raw.analytics_events as landed
    where landed.event_id in (select repeated_ids.event_id from repeated_ids)
)

select
    event_id,
    _source_file as kept_source_file,
    _line as kept_line,
    source_rows
from ranked_copies
where copy_rank = 1
