-- materialized: ephemeral
-- Revenue per checkout and currency as each side sees it: client completion events (first and
-- duplicates, with or without a campaign), open order totals, captures and refunds, plus the
-- checkout-level facts that decide which revenue-bridge line a difference belongs to.
-- Each side is reduced per checkout first and the sides are stacked and summed, not joined: seven
-- hash joins on string keys, each holding a table of every checkout, spilled 9 GB at 10M.
with completions as (
    select
        checkout_id,
        currency,
        revenue_minor,
        utm_source,
        row_number() over (partition by checkout_id order by received_at, event_id) as event_rank
    from stg_analytics_events
    where event_name = 'checkout_completed' and checkout_id is not null
),

client_amounts as (
    select
        checkout_id,
        currency,
        sum(revenue_minor) as client_revenue_minor,
        sum(case when event_rank = 1 then revenue_minor else 0 end) as first_event_minor,
        sum(case when event_rank > 1 then revenue_minor else 0 end) as duplicate_event_minor,
        sum(case when utm_source is not null then revenue_minor else 0 end)
            as attributed_event_minor,
        0 as open_order_minor,
        0 as captured_minor,
        0 as refunded_minor
    from completions
    group by checkout_id, currency
),

order_amounts as (
    select
        checkout_id,
        currency,
        0 as client_revenue_minor,
        0 as first_event_minor,
        0 as duplicate_event_minor,
        0 as attributed_event_minor,
        sum(case when status = 'placed' then total_minor else 0 end) as open_order_minor,
        0 as captured_minor,
        0 as refunded_minor
    from stg_orders
    group by checkout_id, currency
),

payment_amounts as (
    select
        checkout_id,
        currency,
        0 as client_revenue_minor,
        0 as first_event_minor,
        0 as duplicate_event_minor,
        0 as attributed_event_minor,
        0 as open_order_minor,
        captured_minor,
        refunded_minor
    from int_payment_ledger
),

amounts as (
    select * from client_amounts
    union all
    select * from order_amounts
    union all
    select * from payment_amounts
),

per_currency as (
    select
        checkout_id,
        currency,
        sum(client_revenue_minor) as client_revenue_minor,
        sum(first_event_minor) as first_event_minor,
        sum(duplicate_event_minor) as duplicate_event_minor,
        sum(attributed_event_minor) as attributed_event_minor,
        sum(open_order_minor) as open_order_minor,
        sum(captured_minor) as captured_minor,
        sum(refunded_minor) as refunded_minor
    from amounts
    group by checkout_id, currency
),

facts as (
    select
        checkout_id,
        completion_events > 0 as has_completion,
        false as has_any_order,
        false as has_open_order,
        false as has_capture,
        false as server_has_utm
    from int_client_events
    union all
    select
        checkout_id,
        false as has_completion,
        order_count > 0 as has_any_order,
        open_order_count > 0 as has_open_order,
        false as has_capture,
        false as server_has_utm
    from int_checkout_orders
    union all
    select
        checkout_id,
        false as has_completion,
        false as has_any_order,
        false as has_open_order,
        captured_minor > 0 as has_capture,
        false as server_has_utm
    from int_payment_ledger
    union all
    select
        checkout_id,
        false as has_completion,
        false as has_any_order,
        false as has_open_order,
        false as has_capture,
        utm_source is not null as server_has_utm
    from stg_orders
    where status = 'placed'
),

checkout_facts as (
    select
        checkout_id,
        bool_or(has_completion) as has_completion,
        bool_or(has_any_order) as has_any_order,
        bool_or(has_open_order) as has_open_order,
        bool_or(has_capture) as has_capture,
        bool_or(server_has_utm) as server_has_utm
    from facts
    group by checkout_id
)

select
    per_currency.checkout_id,
    per_currency.currency,
    per_currency.client_revenue_minor,
    per_currency.first_event_minor,
    per_currency.duplicate_event_minor,
    per_currency.attributed_event_minor,
    per_currency.open_order_minor,
    per_currency.captured_minor,
    per_currency.refunded_minor,
    coalesce(checkout_facts.has_completion, false) as has_completion,
    coalesce(checkout_facts.has_any_order, false) as has_any_order,
    coalesce(checkout_facts.has_open_order, false) as has_open_order,
    coalesce(checkout_facts.has_capture, false) as has_capture,
    coalesce(checkout_facts.server_has_utm, false) as server_has_utm
from per_currency
left join checkout_facts on per_currency.checkout_id = checkout_facts.checkout_id
