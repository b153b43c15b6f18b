-- The fulfillment IDs that landed more than once (a status change exported as a new row, or a
-- re-export), each with how many versions landed and which one staging keeps: the latest (greatest
-- updated_at, then the latest to land). Almost every fulfillment has one version, so this stays
-- small, and stg_fulfillments reads each landed row once and looks it up here.
with repeated_ids as (
    select fulfillment_id
    from raw.fulfillments
    group by fulfillment_id
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
    where landed.fulfillment_id in (select repeated_ids.fulfillment_id from repeated_ids)
)

select
    fulfillment_id,
    _source_file as kept_source_file,
    _line as kept_line,
    source_rows
from ranked_versions
where version_rank = 1
