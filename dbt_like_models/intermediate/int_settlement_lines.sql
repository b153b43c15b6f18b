-- Every settlement line of the read window with the payment it settles: a charge, chargeback or
-- chargeback reversal names a succeeded capture by its psp_reference, a refund line a succeeded
-- refund. Lines that name no such payment (the provider's fees and adjustments, and what no
-- capture explains) keep null payment columns. One row per line, so no finding is doubled.
-- Where one reference names several payments of a kind (int_shared_references: providers give a
-- payment's partial refunds its reference), a line settles the one whose amount it carries, else
-- the earliest; where several carry its amount, the n-th line of that reference, type and amount
-- settles the n-th payment, so each is settled once, and a line beyond their number settles the
-- first again: a duplicate. Each line also carries the fee the schedule sets for it
-- (meta.fee_schedule, one row per currency it covers): a charge its percentage rounded half up to
-- the minor unit plus the fixed part, a chargeback the chargeback fee, a refund or chargeback
-- reversal none; null for the provider's fee and adjustment lines and in a currency the schedule
-- does not cover. The settlement rules and cash_daily read this one table, so the fee is written
-- once.
-- The lines of a reference with one payment of their kind (nearly all) are joined without ranking:
-- ranking every line's candidates (a window that spilled 3.5 GB) made this model 20.6-21.4 s at
-- 10M checkouts, against 17.5-17.7 s. Each CTE is read once, as DuckDB materialises one read
-- twice.
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

lines_of_single_payments as (
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
        payments.currency as payment_currency
    from stg_settlements as lines
    anti join int_shared_references as shared
        on lines.psp_reference = shared.psp_reference and lines.payment_kind = shared.kind
    left join settled_payments as payments
        on lines.psp_reference = payments.psp_reference and lines.payment_kind = payments.kind
),

lines_of_shared_references as (
    select
        lines.*,
        row_number() over (
            partition by lines.psp_reference, lines.line_type, abs(lines.gross_minor)
            order by lines.settled_at, lines.settlement_line_id
        ) as amount_ordinal
    from stg_settlements as lines
    inner join int_shared_references as shared
        on lines.psp_reference = shared.psp_reference and lines.payment_kind = shared.kind
),

payments_of_shared_references as (
    select
        payments.psp_reference,
        payments.kind,
        payments.payment_id,
        payments.checkout_id,
        payments.checkout_key,
        payments.amount_minor,
        payments.currency,
        payments.created_at,
        row_number() over (
            partition by payments.psp_reference, payments.kind, payments.amount_minor
            order by payments.created_at, payments.payment_id
        ) as amount_ordinal
    from stg_payments as payments
    semi join int_shared_references as shared
        on payments.psp_reference = shared.psp_reference and payments.kind = shared.kind
    where payments.status = 'succeeded'
),

matched_candidates as (
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
        payments.currency as payment_currency
    from lines_of_shared_references as lines
    inner join payments_of_shared_references as payments
        on lines.psp_reference = payments.psp_reference and lines.payment_kind = payments.kind
    qualify row_number() over (
        partition by lines.settlement_line_id
        order by
            case
                when
                    payments.amount_minor = abs(lines.gross_minor)
                    and payments.amount_ordinal = lines.amount_ordinal
                    then 0
                when payments.amount_minor = abs(lines.gross_minor) then 1
                else 2
            end,
            payments.created_at,
            payments.payment_id
    ) = 1
),

matched as (
    select * from lines_of_single_payments
    union all
    select * from matched_candidates
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
