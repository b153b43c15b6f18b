-- settlement_amount_mismatch of the business date: a charge line whose gross differs from its
-- capture's amount, or a refund line whose gross (negated: a refund is money out) differs from its
-- refund's, or either in another currency, beyond the tolerance; for the day's checkouts.
with compared as (
    select
        lines.*,
        case
            when lines.line_type = 'refund' then -lines.payment_amount_minor
            else lines.payment_amount_minor
        end as expected_gross_minor
    from int_settlement_lines as lines
    inner join int_checkouts_of_day as checkouts on lines.checkout_key = checkouts.checkout_key
    where lines.line_type in ('charge', 'refund')
),

differing as (
    select
        compared.*,
        abs(compared.gross_minor - compared.expected_gross_minor) as difference_minor,
        tolerance.absolute_minor,
        tolerance.relative_ppm
    from compared
    inner join meta.tolerances as tolerance
        on
            tolerance.rule = 'settlement_amount_mismatch'
            and compared.payment_currency = tolerance.currency
    where
        compared.gross_minor <> compared.expected_gross_minor
        or compared.currency <> compared.payment_currency
)

select
    checkout_id,
    'settlement_amount_mismatch' as type,
    settlement_line_id as subject_id,
    difference_minor as amount_minor,
    payment_currency as currency,
    cast(to_json(struct_pack(
        settlement_line_id := settlement_line_id,
        line_type := line_type,
        payment_id := payment_id,
        payment_minor := payment_amount_minor,
        payment_currency := payment_currency,
        gross_minor := gross_minor,
        line_currency := currency
    )) as varchar) as details
from differing
where
    currency <> payment_currency
    or (
        difference_minor > absolute_minor
        and difference_minor * 1000000 > relative_ppm * abs(expected_gross_minor)
    )
