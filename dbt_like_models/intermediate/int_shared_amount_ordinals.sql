-- The order of the succeeded payments that share a reference, a kind and an amount, and of the
-- settlement lines that name them (a checkout captured twice in equal parts under one
-- reference): the n-th line of a reference, line type and amount settles the n-th payment, so
-- each is settled once (int_settlement_lines). One row per such payment (payment_id) or line
-- (settlement_line_id), the other ID null; every other payment and line is the first of its
-- amount. Most days have no such row: the groups are found by a hash of the three values (a
-- collision only adds candidates), which at 10M checkouts cost a third of grouping by the values.
-- Stored on its own: inside int_settlement_lines these scans held the memory that model's
-- payments join needs (it failed at the default limit at 10M checkouts).
with shared_amounts as (
    select hash(psp_reference, kind, amount_minor) as amount_hash
    from stg_payments
    where status = 'succeeded' and kind in ('capture', 'refund') and psp_reference is not null
    group by amount_hash
    having count(*) > 1
),

payments as (
    select
        payment_id,
        row_number() over (
            partition by psp_reference, kind, amount_minor order by created_at, payment_id
        ) as amount_ordinal
    from stg_payments
    where
        status = 'succeeded'
        and kind in ('capture', 'refund')
        and psp_reference is not null
        and hash(psp_reference, kind, amount_minor) in (select amount_hash from shared_amounts)
),

lines as (
    select
        settlement_line_id,
        row_number() over (
            partition by psp_reference, line_type, abs(gross_minor)
            order by settled_at, settlement_line_id
        ) as amount_ordinal
    from stg_settlements
    where
        psp_reference is not null
        and hash(
            psp_reference,
            case
                when line_type in ('charge', 'chargeback', 'chargeback_reversal') then 'capture'
                when line_type = 'refund' then 'refund'
            end,
            abs(gross_minor)
        ) in (select amount_hash from shared_amounts)
)

select payment_id, cast(null as varchar) as settlement_line_id, amount_ordinal
from payments
union all
select cast(null as varchar) as payment_id, settlement_line_id, amount_ordinal
from lines
