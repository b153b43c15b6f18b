-- unattributed_revenue of the business date: an open order whose server-side attribution names a
-- campaign (utm_source) while no client checkout_completed for it carries one; details.reason says
-- whether the client event is missing (no_client_event) or came without a campaign (no_utm).
with attributed_checkouts as (
    select checkout_key from int_client_events where attributed_completion_events > 0
),

unattributed as (
    select open_orders.checkout_id, open_orders.checkout_key, open_orders.order_id,
        open_orders.total_minor, open_orders.currency, open_orders.utm_source,
        open_orders.utm_campaign
    from stg_orders as open_orders
    anti join attributed_checkouts
        on open_orders.checkout_key = attributed_checkouts.checkout_key
    where open_orders.status = 'placed' and open_orders.utm_source is not null
)

select
    unattributed.checkout_id,
    'unattributed_revenue' as type,
    unattributed.order_id as subject_id,
    unattributed.total_minor as amount_minor,
    unattributed.currency,
    cast(to_json(struct_pack(
        reason := case
            when coalesce(client.completion_events, 0) = 0 then 'no_client_event'
            else 'no_utm'
        end,
        order_id := unattributed.order_id,
        server_utm_source := unattributed.utm_source,
        server_utm_campaign := unattributed.utm_campaign
    )) as varchar) as details
from unattributed
inner join int_checkouts_of_day as checkouts on unattributed.checkout_key = checkouts.checkout_key
left join int_client_events as client on unattributed.checkout_key = client.checkout_key
