-- payout_mismatch of the business date: a paid payout arriving on the business date whose amount
-- differs from the sum of its lines' net (in its currency), beyond the tolerance, or that holds
-- lines in another currency. Its lines are those of the read window: the lookback must cover the
-- time from a line's settlement to its payout's arrival. No checkout: the payout is the subject.
with context as (
    select * from int_run_context
),

arriving as (
    select payouts.*
    from stg_payouts as payouts
    cross join context
    where payouts.status = 'paid' and payouts.arrival_date = context.business_date
),

line_sums as (
    select
        arriving.payout_id,
        count(lines.settlement_line_id) as lines,
        coalesce(sum(case when lines.currency = arriving.currency then lines.net_minor end), 0)
            as lines_net_minor,
        count(*) filter (where lines.currency <> arriving.currency) as lines_in_other_currencies
    from arriving
    left join stg_settlements as lines on arriving.payout_id = lines.payout_id
    group by arriving.payout_id
),

compared as (
    select
        arriving.payout_id,
        arriving.currency,
        arriving.amount_minor,
        arriving.arrival_date,
        line_sums.lines,
        line_sums.lines_net_minor,
        line_sums.lines_in_other_currencies,
        abs(arriving.amount_minor - line_sums.lines_net_minor) as difference_minor,
        tolerance.absolute_minor,
        tolerance.relative_ppm
    from arriving
    inner join line_sums on arriving.payout_id = line_sums.payout_id
    inner join meta.tolerances as tolerance
        on tolerance.rule = 'payout_mismatch' and arriving.currency = tolerance.currency
)

select
    cast(null as varchar) as checkout_id,
    'payout_mismatch' as type,
    payout_id as subject_id,
    difference_minor as amount_minor,
    currency,
    cast(to_json(struct_pack(
        payout_id := payout_id,
        paid_minor := amount_minor,
        lines_net_minor := lines_net_minor,
        lines := lines,
        lines_in_other_currencies := lines_in_other_currencies,
        arrival_date := cast(arrival_date as varchar)
    )) as varchar) as details
from compared
where
    lines_in_other_currencies > 0
    or (
        difference_minor > absolute_minor
        and difference_minor * 1000000 > relative_ppm * abs(lines_net_minor)
    )
