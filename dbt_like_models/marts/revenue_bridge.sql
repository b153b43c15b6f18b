-- The revenue bridge per currency for the business date: from marketing-attributed revenue
-- (client events with a campaign) to what clients reported, to ordered, to captured (finance
-- gross) and to net revenue. Every difference is a named step; totals are the running sums, so
-- the bridge closes to the minor unit (an asset check recomputes the totals independently).
-- Each line sums one side's amounts over checkouts whose facts (int_checkout_spine) meet a
-- condition, so each side is summed per currency and combination of facts, then combined: no
-- table of every checkout and currency is built.
with context as (
    select business_date from int_run_context
),

day_checkouts as (
    select
        spine.checkout_key,
        spine.has_completion,
        spine.has_any_order,
        spine.has_open_order,
        spine.has_capture,
        spine.server_has_utm
    from int_checkout_spine as spine
    cross join context
    where spine.business_date = context.business_date
),

-- Which completion is a checkout's first matters only where it reported more than one.
repeated_completers as (
    select checkout_key from int_client_events where completion_events > 1
),

single_completions as (
    select
        events.checkout_key,
        events.currency,
        events.revenue_minor,
        events.utm_source is not null as is_attributed,
        true as is_first
    from stg_analytics_events as events
    anti join repeated_completers on events.checkout_key = repeated_completers.checkout_key
    where events.event_name = 'checkout_completed' and events.checkout_id is not null
),

repeated_completions as (
    select
        events.checkout_key,
        events.currency,
        events.revenue_minor,
        events.utm_source is not null as is_attributed,
        row_number() over (
            partition by events.checkout_key order by events.received_at, events.event_id
        ) = 1 as is_first
    from stg_analytics_events as events
    inner join repeated_completers on events.checkout_key = repeated_completers.checkout_key
    where events.event_name = 'checkout_completed'
),

completions as (
    select * from single_completions
    union all
    select * from repeated_completions
),

client_sums as (
    select
        completions.currency,
        day_checkouts.has_completion,
        day_checkouts.has_any_order,
        day_checkouts.has_open_order,
        day_checkouts.has_capture,
        day_checkouts.server_has_utm,
        sum(completions.revenue_minor) as client_revenue_minor,
        coalesce(sum(completions.revenue_minor) filter (where completions.is_first), 0)
            as first_event_minor,
        coalesce(sum(completions.revenue_minor) filter (where not completions.is_first), 0)
            as duplicate_event_minor,
        coalesce(sum(completions.revenue_minor) filter (where completions.is_attributed), 0)
            as attributed_event_minor,
        0 as open_order_minor,
        0 as captured_minor,
        0 as refunded_minor
    from completions
    inner join day_checkouts on completions.checkout_key = day_checkouts.checkout_key
    group by
        completions.currency,
        day_checkouts.has_completion,
        day_checkouts.has_any_order,
        day_checkouts.has_open_order,
        day_checkouts.has_capture,
        day_checkouts.server_has_utm
),

order_sums as (
    select
        orders.currency,
        day_checkouts.has_completion,
        day_checkouts.has_any_order,
        day_checkouts.has_open_order,
        day_checkouts.has_capture,
        day_checkouts.server_has_utm,
        0 as client_revenue_minor,
        0 as first_event_minor,
        0 as duplicate_event_minor,
        0 as attributed_event_minor,
        coalesce(sum(orders.total_minor) filter (where orders.status = 'placed'), 0)
            as open_order_minor,
        0 as captured_minor,
        0 as refunded_minor
    from stg_orders as orders
    inner join day_checkouts on orders.checkout_key = day_checkouts.checkout_key
    group by
        orders.currency,
        day_checkouts.has_completion,
        day_checkouts.has_any_order,
        day_checkouts.has_open_order,
        day_checkouts.has_capture,
        day_checkouts.server_has_utm
),

payment_sums as (
    select
        ledger.currency,
        day_checkouts.has_completion,
        day_checkouts.has_any_order,
        day_checkouts.has_open_order,
        day_checkouts.has_capture,
        day_checkouts.server_has_utm,
        0 as client_revenue_minor,
        0 as first_event_minor,
        0 as duplicate_event_minor,
        0 as attributed_event_minor,
        0 as open_order_minor,
        sum(ledger.captured_minor) as captured_minor,
        sum(ledger.refunded_minor) as refunded_minor
    from int_payment_ledger as ledger
    inner join day_checkouts on ledger.checkout_key = day_checkouts.checkout_key
    group by
        ledger.currency,
        day_checkouts.has_completion,
        day_checkouts.has_any_order,
        day_checkouts.has_open_order,
        day_checkouts.has_capture,
        day_checkouts.server_has_utm
),

revenue as (
    select * from client_sums
    union all
    select * from order_sums
    union all
    select * from payment_sums
),

sums as (
    select
        currency,
        sum(attributed_event_minor) as marketing_attributed,
        sum(
            case
                when server_has_utm then client_revenue_minor - attributed_event_minor else 0
            end
        ) as utm_lost,
        sum(
            case
                when not server_has_utm then client_revenue_minor - attributed_event_minor else 0
            end
        ) as no_campaign_on_client,
        sum(client_revenue_minor) as client_reported,
        -sum(duplicate_event_minor) as duplicate_completion_events,
        -sum(case when not has_any_order then first_event_minor else 0 end)
            as phantom_completions,
        -sum(case when has_any_order and not has_open_order then first_event_minor else 0 end)
            as completed_then_cancelled,
        sum(case when not has_completion then open_order_minor else 0 end) as no_client_event,
        sum(
            case
                when has_completion and has_open_order then open_order_minor - first_event_minor
                else 0
            end
        ) as client_amount_differs,
        sum(open_order_minor) as ordered,
        -sum(case when has_open_order and not has_capture then open_order_minor else 0 end)
            as orders_not_captured,
        sum(
            case
                when has_open_order and has_capture then captured_minor - open_order_minor else 0
            end
        ) as capture_differs_from_order,
        sum(case when not has_open_order then captured_minor else 0 end)
            as captures_without_open_order,
        sum(captured_minor) as gross_revenue,
        -sum(refunded_minor) as refunds,
        sum(captured_minor) - sum(refunded_minor) as net_revenue
    from revenue
    group by currency
),

lines as (
    select currency, 1 as line_no, 'marketing_attributed' as line, 'total' as kind,
        marketing_attributed as amount_minor from sums
    union all
    select currency, 2, 'utm_lost', 'step', utm_lost from sums
    union all
    select currency, 3, 'no_campaign_on_client', 'step', no_campaign_on_client from sums
    union all
    select currency, 4, 'client_reported', 'total', client_reported from sums
    union all
    select currency, 5, 'duplicate_completion_events', 'step', duplicate_completion_events
    from sums
    union all
    select currency, 6, 'phantom_completions', 'step', phantom_completions from sums
    union all
    select currency, 7, 'completed_then_cancelled', 'step', completed_then_cancelled from sums
    union all
    select currency, 8, 'no_client_event', 'step', no_client_event from sums
    union all
    select currency, 9, 'client_amount_differs', 'step', client_amount_differs from sums
    union all
    select currency, 10, 'ordered', 'total', ordered from sums
    union all
    select currency, 11, 'orders_not_captured', 'step', orders_not_captured from sums
    union all
    select currency, 12, 'capture_differs_from_order', 'step', capture_differs_from_order
    from sums
    union all
    select currency, 13, 'captures_without_open_order', 'step', captures_without_open_order
    from sums
    union all
    select currency, 14, 'gross_revenue', 'total', gross_revenue from sums
    union all
    select currency, 15, 'refunds', 'step', refunds from sums
    union all
    select currency, 16, 'net_revenue', 'total', net_revenue from sums
)

select
    context.business_date,
    lines.currency,
    lines.line_no,
    lines.line,
    lines.kind,
    lines.amount_minor
from lines
cross join context
