-- The order IDs that landed more than once (a status change exported as a new row, or a re-export),
-- each with how many versions landed and which one staging keeps: the latest (greatest updated_at,
-- then the latest to land). Almost every order has one version, so this stays small, and
-- stg_orders reads each landed row once and looks it up here instead of ranking every row.
-- Repeats are found by grouping the IDs' integer keys (cheaper than grouping the text), then
-- compared by the IDs themselves.
with repeated_keys as (
    select surrogate_key(order_id) as id_key
    from raw.orders
    group by id_key
    having count(*) > 1
),

ranked_versions as (
    select
        landed.order_id,
        landed._source_file,
        landed._line,
        count(*) over (partition by landed.order_id) as source_rows,
        row_number() over (
            partition by landed.order_id
            order by
                landed.updated_at desc,
                landed._landing_date desc,
                landed._source_file desc,
                landed._line desc
        ) as version_rank
    from raw.orders as landed
    where surrogate_key(landed.order_id) in (select repeated_keys.id_key from repeated_keys)
)

select
    order_id,
    _source_file as kept_source_file,
    _line as kept_line,
    source_rows
from ranked_versions
-- the IDs compared exactly: a shared key alone is not proof of a repeat
where version_rank = 1 and source_rows > 1
