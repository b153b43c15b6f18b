-- Client-side analytics per checkout: how many views, starts and completions the browser
-- reported, how many completions carried a campaign (utm_source), and a completion's revenue.
-- Not its currency: text in a grouping of every checkout made this model a third slower at 10M
-- checkouts (spilling), and the two rules that report it look it up for their few checkouts.
-- Also how many events it holds and when the collector first received one: the spine reads a
-- checkout's client side from here, not from every event again (40M events at 10M checkouts).
select
    checkout_key,
    count(*) filter (where event_name = 'checkout_viewed') as view_events,
    count(*) filter (where event_name = 'checkout_started') as start_events,
    count(*) filter (where event_name = 'checkout_completed') as completion_events,
    count(*) filter (
        where event_name = 'checkout_completed' and utm_source is not null
    ) as attributed_completion_events,
    max(revenue_minor) filter (where event_name = 'checkout_completed') as client_revenue_minor,
    count(*) as client_events,
    min(received_at) as first_received_at
from stg_analytics_events
where checkout_id is not null
group by checkout_key
