-- The revenue bridge per currency for the business date: from marketing-attributed revenue
-- (client events with a campaign) to what clients reported, to ordered, to captured (finance
-- gross) and to net revenue, then, where the provider's reports were landed (a settlement clock),
-- on to what the provider settled and paid out. Every difference is a named step; totals are the
-- running sums, so the bridge closes to the minor unit (an asset check recomputes the totals
-- independently). Each line sums one side's amounts over checkouts whose facts
-- (int_checkout_spine) meet a condition, so each side is summed per currency and combination of
-- facts, then combined: no table of every checkout and currency is built.
with context as (
    select business_date, settlement_as_of from int_run_context
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

revenue_sums as (
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

-- The cash side. Payments are summed in their own currency and settlement lines in the currency
-- the provider settled them in: a line settled in another currency than its payment moves the
-- money between the two currencies' settlement_differs, and each currency's bridge still closes.
-- The lines that are the day's checkouts' money (each line once per payment it names): charge
-- and refund lines settle a payment, chargebacks and their reversals dispute a capture. Lines of
-- the business date that name none of our payments (the provider's fees, adjustments, charges
-- no capture explains) are the provider's own bookings, counted on the day they were settled.
-- Read once (a CTE read twice is held in memory: 10M lines at 10M checkouts).
day_lines as (
    select
        lines.currency,
        lines.gross_minor,
        lines.fee_minor,
        lines.net_minor,
        lines.payout_id,
        case when lines.line_type in ('charge', 'refund') then 'settles' else 'disputes' end
            as role
    from int_settlement_lines as lines
    inner join day_checkouts on lines.checkout_key = day_checkouts.checkout_key
    union all
    select
        lines.currency,
        lines.gross_minor,
        lines.fee_minor,
        lines.net_minor,
        lines.payout_id,
        'provider' as role
    from int_settlement_lines as lines
    cross join context
    where lines.payment_id is null and lines.settled_on = context.business_date
),

-- The day's payments that a line settles, each once, with its signed amount in its own currency
-- (the line carries its payment's). The day's payments no line settles are the rest of net
-- revenue: the ledger sums the same succeeded captures and refunds.
settled_payments as (
    select distinct
        lines.payment_id,
        lines.payment_currency as currency,
        case
            when lines.line_type = 'charge' then lines.payment_amount_minor
            else -lines.payment_amount_minor
        end as signed_minor
    from int_settlement_lines as lines
    inner join day_checkouts on lines.checkout_key = day_checkouts.checkout_key
    where lines.line_type in ('charge', 'refund')
),

payment_settlement as (
    select
        currency,
        sum(signed_minor) as settled_payments_minor
    from settled_payments
    group by currency
),

-- A payout's money is out only once the provider reports it paid (its latest row).
paid_payouts as (
    select payout_id from stg_payouts where status = 'paid'
),

line_sums as (
    select
        day_lines.currency,
        sum(case when day_lines.role = 'settles' then day_lines.gross_minor else 0 end)
            as settled_gross,
        sum(case when day_lines.role = 'provider' then 0 else day_lines.fee_minor end) as fees,
        sum(case when day_lines.role = 'disputes' then day_lines.gross_minor else 0 end)
            as chargebacks,
        sum(case when day_lines.role = 'provider' then day_lines.net_minor else 0 end)
            as adjustments,
        sum(day_lines.net_minor) as settled_net,
        sum(case when paid_payouts.payout_id is null then day_lines.net_minor else 0 end)
            as awaiting_payout_minor,
        sum(case when paid_payouts.payout_id is null then 0 else day_lines.net_minor end)
            as paid_out
    from day_lines
    left join paid_payouts on day_lines.payout_id = paid_payouts.payout_id
    group by day_lines.currency
),

-- A currency the provider settled in that none of the day's checkouts paid in gets its whole
-- bridge, zero up to net revenue.
currencies as (
    select currency from revenue_sums
    union
    select currency from line_sums
),

sums as (
    select
        currencies.currency,
        coalesce(revenue_sums.marketing_attributed, 0) as marketing_attributed,
        coalesce(revenue_sums.utm_lost, 0) as utm_lost,
        coalesce(revenue_sums.no_campaign_on_client, 0) as no_campaign_on_client,
        coalesce(revenue_sums.client_reported, 0) as client_reported,
        coalesce(revenue_sums.duplicate_completion_events, 0) as duplicate_completion_events,
        coalesce(revenue_sums.phantom_completions, 0) as phantom_completions,
        coalesce(revenue_sums.completed_then_cancelled, 0) as completed_then_cancelled,
        coalesce(revenue_sums.no_client_event, 0) as no_client_event,
        coalesce(revenue_sums.client_amount_differs, 0) as client_amount_differs,
        coalesce(revenue_sums.ordered, 0) as ordered,
        coalesce(revenue_sums.orders_not_captured, 0) as orders_not_captured,
        coalesce(revenue_sums.capture_differs_from_order, 0) as capture_differs_from_order,
        coalesce(revenue_sums.captures_without_open_order, 0) as captures_without_open_order,
        coalesce(revenue_sums.gross_revenue, 0) as gross_revenue,
        coalesce(revenue_sums.refunds, 0) as refunds,
        coalesce(revenue_sums.net_revenue, 0) as net_revenue,
        -(
            coalesce(revenue_sums.net_revenue, 0)
            - coalesce(payment_settlement.settled_payments_minor, 0)
        ) as not_settled,
        coalesce(line_sums.settled_gross, 0)
        - coalesce(payment_settlement.settled_payments_minor, 0) as settlement_differs,
        coalesce(line_sums.settled_gross, 0) as settled_gross,
        -coalesce(line_sums.fees, 0) as fees,
        coalesce(line_sums.chargebacks, 0) as chargebacks,
        coalesce(line_sums.adjustments, 0) as adjustments,
        coalesce(line_sums.settled_net, 0) as settled_net,
        -coalesce(line_sums.awaiting_payout_minor, 0) as awaiting_payout,
        coalesce(line_sums.paid_out, 0) as paid_out
    from currencies
    left join revenue_sums on currencies.currency = revenue_sums.currency
    left join payment_settlement on currencies.currency = payment_settlement.currency
    left join line_sums on currencies.currency = line_sums.currency
),

-- The bridge's lines in order; lines 17 on are the cash side.
line_definitions as (
    select * from (
        values
        (1, 'marketing_attributed', 'total', false),
        (2, 'utm_lost', 'step', false),
        (3, 'no_campaign_on_client', 'step', false),
        (4, 'client_reported', 'total', false),
        (5, 'duplicate_completion_events', 'step', false),
        (6, 'phantom_completions', 'step', false),
        (7, 'completed_then_cancelled', 'step', false),
        (8, 'no_client_event', 'step', false),
        (9, 'client_amount_differs', 'step', false),
        (10, 'ordered', 'total', false),
        (11, 'orders_not_captured', 'step', false),
        (12, 'capture_differs_from_order', 'step', false),
        (13, 'captures_without_open_order', 'step', false),
        (14, 'gross_revenue', 'total', false),
        (15, 'refunds', 'step', false),
        (16, 'net_revenue', 'total', false),
        (17, 'not_settled', 'step', true),
        (18, 'settlement_differs', 'step', true),
        (19, 'settled_gross', 'total', true),
        (20, 'fees', 'step', true),
        (21, 'chargebacks', 'step', true),
        (22, 'adjustments', 'step', true),
        (23, 'settled_net', 'total', true),
        (24, 'awaiting_payout', 'step', true),
        (25, 'paid_out', 'total', true)
    ) as definitions (line_no, line, kind, is_cash)
),

-- One row per currency and line, reading `sums` once: a union of one select per line would
-- have Spark compute every sum above once per line.
-- Without the provider's reports (no settlement clock) the bridge ends at net revenue: nothing
-- says the day's money was or was not settled.
lines as (
    select
        sums.currency,
        line_definitions.line_no,
        line_definitions.line,
        line_definitions.kind,
        case line_definitions.line
            when 'marketing_attributed' then sums.marketing_attributed
            when 'utm_lost' then sums.utm_lost
            when 'no_campaign_on_client' then sums.no_campaign_on_client
            when 'client_reported' then sums.client_reported
            when 'duplicate_completion_events' then sums.duplicate_completion_events
            when 'phantom_completions' then sums.phantom_completions
            when 'completed_then_cancelled' then sums.completed_then_cancelled
            when 'no_client_event' then sums.no_client_event
            when 'client_amount_differs' then sums.client_amount_differs
            when 'ordered' then sums.ordered
            when 'orders_not_captured' then sums.orders_not_captured
            when 'capture_differs_from_order' then sums.capture_differs_from_order
            when 'captures_without_open_order' then sums.captures_without_open_order
            when 'gross_revenue' then sums.gross_revenue
            when 'refunds' then sums.refunds
            when 'net_revenue' then sums.net_revenue
            when 'not_settled' then sums.not_settled
            when 'settlement_differs' then sums.settlement_differs
            when 'settled_gross' then sums.settled_gross
            when 'fees' then sums.fees
            when 'chargebacks' then sums.chargebacks
            when 'adjustments' then sums.adjustments
            when 'settled_net' then sums.settled_net
            when 'awaiting_payout' then sums.awaiting_payout
            when 'paid_out' then sums.paid_out
        end as amount_minor
    from sums
    cross join line_definitions
    cross join context
    where not line_definitions.is_cash or context.settlement_as_of is not null
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
