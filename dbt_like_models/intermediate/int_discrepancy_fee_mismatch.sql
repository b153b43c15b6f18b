-- fee_mismatch of the business date: a charge, refund, chargeback or chargeback reversal line
-- whose fee differs from the fee schedule's (meta.fee_schedule: the currency's rule, else `*`'s)
-- beyond the tolerance. A charge pays its percentage (rounded half up to the minor unit) plus the
-- fixed part, a chargeback the chargeback fee, the others none. A currency the schedule does not
-- cover is not checked. Reported on the checkout's date, or the line's for a line no payment
-- explains.
with context as (
    select * from int_run_context
),

scheduled as (
    select
        lines.*,
        case lines.line_type
            when 'charge'
                then
                    (abs(lines.gross_minor) * coalesce(exact.rate_ppm, fallback.rate_ppm) + 500000)
                    // 1000000
                    + coalesce(exact.fixed_minor, fallback.fixed_minor)
            when 'chargeback' then coalesce(exact.chargeback_fee_minor, fallback.chargeback_fee_minor)
            else 0
        end as expected_fee_minor
    from int_settlement_lines as lines
    left join meta.fee_schedule as exact on lines.currency = exact.currency
    left join meta.fee_schedule as fallback on fallback.currency = '*'
    where
        lines.line_type in ('charge', 'refund', 'chargeback', 'chargeback_reversal')
        and coalesce(exact.currency, fallback.currency) is not null
),

differing as (
    select
        scheduled.*,
        abs(scheduled.fee_minor - scheduled.expected_fee_minor) as difference_minor,
        coalesce(exact.absolute_minor, fallback.absolute_minor, 0) as absolute_minor,
        coalesce(exact.relative_ppm, fallback.relative_ppm, 0) as relative_ppm
    from scheduled
    left join meta.tolerances as exact
        on exact.rule = 'fee_mismatch' and scheduled.currency = exact.currency
    left join meta.tolerances as fallback
        on fallback.rule = 'fee_mismatch' and fallback.currency = '*'
    where scheduled.fee_minor <> scheduled.expected_fee_minor
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
        scheduled_fee_minor := differing.expected_fee_minor
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
    > differing.relative_ppm * abs(differing.expected_fee_minor)
