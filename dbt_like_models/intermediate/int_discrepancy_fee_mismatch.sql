-- fee_mismatch of the business date: a charge, refund, chargeback or chargeback reversal line
-- whose fee differs from the fee schedule's beyond the tolerance. The scheduled fee is
-- int_settlement_lines' (a charge its percentage rounded half up to the minor unit plus the fixed
-- part, a chargeback the chargeback fee, the others none), computed there once so cash_daily
-- compares fees by the same formula; a line it leaves null (the provider's fee and adjustment
-- lines, a currency the schedule does not cover) is not checked. Reported on the checkout's date,
-- or the line's for a line no payment explains.
with context as (
    select * from int_run_context
),

differing as (
    select
        lines.*,
        abs(lines.fee_minor - lines.scheduled_fee_minor) as difference_minor,
        tolerance.absolute_minor,
        tolerance.relative_ppm
    from int_settlement_lines as lines
    inner join meta.tolerances as tolerance
        on tolerance.rule = 'fee_mismatch' and lines.currency = tolerance.currency
    where
        lines.scheduled_fee_minor is not null
        and lines.fee_minor <> lines.scheduled_fee_minor
)

select
    differing.checkout_id,
    'fee_mismatch' as type,
    differing.settlement_line_id as subject_id,
    differing.difference_minor as amount_minor,
    differing.currency,
    cast(to_json(struct_pack(
        settlement_line_id := differing.settlement_line_id,
        line_type := differing.line_type,
        gross_minor := differing.gross_minor,
        fee_minor := differing.fee_minor,
        scheduled_fee_minor := differing.scheduled_fee_minor
    )) as varchar) as details
from differing
cross join context
left join int_checkouts_of_day as checkouts on differing.checkout_key = checkouts.checkout_key
where
    (
        checkouts.checkout_key is not null
        or (differing.checkout_key is null and differing.settled_on = context.business_date)
    )
    and differing.difference_minor > differing.absolute_minor
    and differing.difference_minor * 1000000
    > differing.relative_ppm * abs(differing.scheduled_fee_minor)
