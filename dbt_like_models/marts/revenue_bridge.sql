-- The revenue bridge per currency for the business date: from marketing-attributed revenue
-- (client events with a campaign) to what clients reported, to ordered, to captured (finance
-- gross) and to net revenue. Every difference is a named step; totals are the running sums, so
-- the bridge closes to the minor unit (an asset check recomputes the totals independently).
with context as (
    select business_date from int_run_context
),

revenue as (
    select revenue.*
    from int_checkout_revenue as revenue
    inner join int_checkout_spine as spine on revenue.checkout_id = spine.checkout_id
    cross join context
    where spine.business_date = context.business_date
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
