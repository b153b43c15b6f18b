-- Client-side analytics per checkout: how many starts and completions the browser reported, and
-- whether any completion carried a campaign (utm_source).
select
    checkout_id,
    sum(case when event_name = 'checkout_viewed' then 1 else 0 end) as view_events,
    sum(case when event_name = 'checkout_started' then 1 else 0 end) as start_events,
    sum(case when event_name = 'checkout_completed' then 1 else 0 end) as completion_events,
    sum(case when event_name = 'payment_failed' then 1 else 0 end) as payment_failed_events,
    sum(
        case when event_name = 'checkout_completed' and utm_source is not null then 1 else 0 end
    ) as attributed_completion_events,
    max(case when event_name = 'checkout_completed' then utm_source end) as client_utm_source,
    max(case when event_name = 'checkout_completed' then revenue_minor end) as client_revenue_minor,
    max(case when event_name = 'checkout_completed' then currency end) as client_currency
from stg_analytics_events
where checkout_id is not null
group by checkout_id
