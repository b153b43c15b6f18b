-- materialized: ephemeral
-- One row per fulfillment: its latest status (greatest updated_at) wins.
-- Never stored: each model reading it reads the landed rows once, keeping for a repeated ID only
-- the version stg_fulfillment_versions names.
select
    landed.fulfillment_id,
    landed.checkout_id,
    landed.order_id,
    lower(landed.status) as status,
    landed.created_at,
    landed.updated_at,
    coalesce(versions.source_rows, 1) as source_rows
from raw.fulfillments as landed
left join stg_fulfillment_versions as versions
    on landed.fulfillment_id = versions.fulfillment_id
where
    versions.fulfillment_id is null
    or (landed._source_file = versions.kept_source_file and landed._line = versions.kept_line)
