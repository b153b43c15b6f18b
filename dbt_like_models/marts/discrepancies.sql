-- Every discrepancy of DESIGN.md's table for the checkouts of the business date, one row each,
-- with a deterministic discrepancy_id (md5 of type and subject) so reruns, alerts and resolutions
-- line up across days. Succeeded payments only; an "order" is a non-cancelled order. Each rule is
-- its own model (intermediate/int_discrepancy_<type>.sql), already narrowed to the business date:
-- one plan per rule stays small enough to spill, where a single plan of all rules ran out of memory.
-- A type's severity comes from the registry, seeds/discrepancy_types.csv.
with found as (
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_duplicate_charge
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_payment_without_order
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_fulfillment_after_cancellation
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_refund_exceeds_capture
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_duplicate_order
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_order_without_payment
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_amount_mismatch
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_orphaned_reservation
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_uncaptured_authorization
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_phantom_completion
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_duplicate_analytics_event
    union all
    select checkout_id, type, subject_id, amount_minor, currency, details
    from int_discrepancy_unattributed_revenue
)

select
    md5(concat(found.type, ':', found.subject_id)) as discrepancy_id,
    found.type,
    types.severity,
    found.checkout_id,
    found.amount_minor,
    found.currency,
    context.business_date,
    found.details,
    found.subject_id
from found
-- every type is registered (a test keeps it so): an inner join drops nothing
inner join seeds.discrepancy_types as types on found.type = types.type
cross join int_run_context as context
