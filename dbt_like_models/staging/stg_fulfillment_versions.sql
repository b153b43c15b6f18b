-- The fulfillment IDs that landed more than once (a status change exported as a new row, or a
-- re-export), each with how many versions landed and which one staging keeps: the latest (greatest
-- updated_at, then the latest to land). Almost every fulfillment has one version, so this stays
-- small, and stg_fulfillments reads each landed row once and looks it up here.
-- Repeats are found by grouping the IDs' integer keys (cheaper than grouping the text), then
-- compared by the IDs themselves.
with repeated_keys as (
    select surrogate_key(fulfillment_id) as id_key
    from raw.fulfillments
    group by id_key
    having count(*) > 1
),

ranked_versions as (
    select
        landed.fulfillment_id,
        landed._source_file,
        landed._line,
        count(*) over (partition by landed.fulfillment_id) as source_rows,
        row_number() over (
            partition by landed.fulfillment_id
            order by
                landed.updated_at desc,
                landed._landing_date desc,
                landed._source_file desc,
                landed._line desc
        ) as version_rank
    from raw.fulfillments as landed
    where surrogate_key(landed.fulfillment_id) in (select repeated_keys.id_key from repeated_keys)
)

select
    fulfillment_id,
    _source_file as kept_source_file,
    _line as kept_line,
    source_rows
from ranked_versions
-- the IDs compared exactly: a shared key alone is not proof of a repeat
where version_rank = 1 and source_rows > 1
