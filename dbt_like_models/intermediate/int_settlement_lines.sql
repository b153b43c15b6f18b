-- Every settlement line of the read window with the payment it settles: a charge, chargeback or
-- chargeback reversal names a succeeded capture by its psp_reference, a refund line a succeeded
-- refund. Lines that name no such payment (the provider's fees and adjustments, and what no
-- capture explains) keep null payment columns. Where one reference names several payments of a
-- kind (providers give a payment's partial refunds its own reference), a line settles the one
-- whose amount it carries, else the earliest: one row per line, so no finding is doubled. Where
-- several carry its amount, the n-th line of that reference, type and amount settles the n-th
-- payment (int_shared_amount_ordinals), so each is settled once; a line beyond their number
-- settles the first again: a duplicate. Each
-- line also carries the fee the schedule sets for it (meta.fee_schedule, one row per currency it
-- covers): a charge its percentage rounded half up to the minor unit plus the fixed part, a
-- chargeback the chargeback fee, a refund or chargeback reversal none; null for the provider's fee
-- and adjustment lines and in a currency the schedule does not cover. The settlement rules and
-- cash_daily read this one table, so the fee is written once.
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
                case
                    when
                        payments.amount_minor = abs(lines.gross_minor)
                        and coalesce(payment_ordinals.amount_ordinal, 1)
                        = coalesce(line_ordinals.amount_ordinal, 1)
                        then 0
                    when payments.amount_minor = abs(lines.gross_minor) then 1
                    else 2
                end,
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
    left join int_shared_amount_ordinals as line_ordinals
        on lines.settlement_line_id = line_ordinals.settlement_line_id
    left join int_shared_amount_ordinals as payment_ordinals
        on payments.payment_id = payment_ordinals.payment_id
)

select
    matched.settlement_line_id,
    matched.payout_id,
    matched.psp_reference,
    matched.line_type,
    matched.gross_minor,
    matched.fee_minor,
    matched.net_minor,
    matched.currency,
    matched.settled_at,
    matched.settled_on,
    matched.payment_id,
    matched.checkout_id,
    matched.checkout_key,
    matched.payment_amount_minor,
    matched.payment_currency,
    case
        when schedule.currency is null then null
        when matched.line_type = 'charge'
            then
                (abs(matched.gross_minor) * schedule.rate_ppm + 500000) // 1000000
                + schedule.fixed_minor
        when matched.line_type = 'chargeback' then schedule.chargeback_fee_minor
        when matched.line_type in ('refund', 'chargeback_reversal') then 0
    end as scheduled_fee_minor
from matched
left join meta.fee_schedule as schedule on matched.currency = schedule.currency
where matched.match_rank = 1
