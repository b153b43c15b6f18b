-- One row per fulfillment: its latest status (greatest updated_at) wins.
with versions as (
    select
        fulfillment_id,
        checkout_id,
        order_id,
        lower(status) as status,
        created_at,
        updated_at,
        row_number() over (
            partition by fulfillment_id
            order by updated_at desc, _landing_date desc, _source_file desc, _line desc
        ) as version_rank,
        count(*) over (partition by fulfillment_id) as source_rows
    from raw.fulfillments
)

select
    fulfillment_id,
    checkout_id,
    order_id,
    status,
    created_at,
    updated_at,
    source_rows
from versions
where version_rank = 1
