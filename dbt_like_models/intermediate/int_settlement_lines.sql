-- Every settlement line of the read window with the payment it settles: a charge, chargeback or
-- chargeback reversal names a succeeded capture by its psp_reference, a refund line a succeeded
-- refund. Lines that name no such payment (the provider's fees and adjustments, and what no
-- capture explains) keep null payment columns. Where one reference names several payments of a
-- kind (providers give a payment's partial refunds its own reference), a line settles the one
-- whose amount it carries, else the earliest: one row per line, so no finding is doubled. The
-- settlement rules read this one table.
with settled_payments as (
    select
        psp_reference,
        kind,
        payment_id,
        checkout_id,
        checkout_key,
        amount_minor,
        currency,
        created_at
    from stg_payments
    where status = 'succeeded' and kind in ('capture', 'refund') and psp_reference is not null
),

matched as (
    select
        lines.settlement_line_id,
        lines.payout_id,
        lines.psp_reference,
        lines.line_type,
        lines.gross_minor,
        lines.fee_minor,
        lines.net_minor,
        lines.currency,
        lines.settled_at,
        lines.settled_on,
        payments.payment_id,
        payments.checkout_id,
        payments.checkout_key,
        payments.amount_minor as payment_amount_minor,
        payments.currency as payment_currency,
        row_number() over (
            partition by lines.settlement_line_id
            order by
                case when payments.amount_minor = abs(lines.gross_minor) then 0 else 1 end,
                payments.created_at,
                payments.payment_id
        ) as match_rank
    from stg_settlements as lines
    left join settled_payments as payments
        on
            lines.psp_reference = payments.psp_reference
            and payments.kind = case
                when lines.line_type in ('charge', 'chargeback', 'chargeback_reversal')
                    then 'capture'
                when lines.line_type = 'refund' then 'refund'
            end
)

select
    settlement_line_id,
    payout_id,
    psp_reference,
    line_type,
    gross_minor,
    fee_minor,
    net_minor,
    currency,
    settled_at,
    settled_on,
    payment_id,
    checkout_id,
    checkout_key,
    payment_amount_minor,
    payment_currency
from matched
where match_rank = 1
