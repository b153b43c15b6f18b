-- materialized: ephemeral
-- One row per fulfillment: its latest status (greatest updated_at) wins.
-- deduplicated: raw.fulfillments by fulfillment_id, kept rows from stg_fulfillment_versions
select
    fulfillment_id,
    checkout_id,
    surrogate_key(checkout_id) as checkout_key,
    order_id,
    lower(status) as status,
    created_at,
    updated_at,
    source_rows
from deduplicated
