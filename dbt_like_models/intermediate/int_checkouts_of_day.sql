-- The checkouts of the business date: those every rule and daily mart reports on. (The spine also
-- holds the lookback window's earlier checkouts, which the rules read as context only.)
-- materialized: ephemeral
select spine.checkout_key
from int_checkout_spine as spine
cross join int_run_context as context
where spine.business_date = context.business_date
