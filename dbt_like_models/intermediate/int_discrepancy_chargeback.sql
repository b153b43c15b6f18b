-- chargeback of the business date: a payment's chargeback lines outnumbering its reversals, i.e.
-- money the card network took back and has not returned. One finding per disputed payment (its
-- psp_reference), named by its first chargeback line. Tied to the capture's checkout when one is
-- known (reported on that checkout's date), else reported on the date of its first chargeback.
with context as (
    select * from int_run_context
),

disputes as (
    select
        lines.psp_reference,
        min(lines.checkout_id) as checkout_id,
        min(lines.checkout_key) as checkout_key,
        min(lines.payment_id) as payment_id,
        min(lines.currency) as currency,
        count(*) filter (where lines.line_type = 'chargeback') as chargebacks,
        count(*) filter (where lines.line_type = 'chargeback_reversal') as reversals,
        -coalesce(sum(lines.gross_minor), 0) as taken_back_minor,
        min(lines.settlement_line_id) filter (where lines.line_type = 'chargeback')
            as first_chargeback_id,
        min(lines.settled_on) filter (where lines.line_type = 'chargeback') as first_charged_back_on
    from int_settlement_lines as lines
    where lines.line_type in ('chargeback', 'chargeback_reversal')
    group by lines.psp_reference
    having
        count(*) filter (where lines.line_type = 'chargeback')
        > count(*) filter (where lines.line_type = 'chargeback_reversal')
)

select
    disputes.checkout_id,
    'chargeback' as type,
    disputes.first_chargeback_id as subject_id,
    disputes.taken_back_minor as amount_minor,
    disputes.currency,
    cast(to_json(struct_pack(
        psp_reference := disputes.psp_reference,
        payment_id := disputes.payment_id,
        chargebacks := disputes.chargebacks,
        reversals := disputes.reversals,
        first_charged_back_on := cast(disputes.first_charged_back_on as varchar)
    )) as varchar) as details
from disputes
cross join context
left join int_checkouts_of_day as checkouts on disputes.checkout_key = checkouts.checkout_key
where
    checkouts.checkout_key is not null
    or (disputes.checkout_key is null and disputes.first_charged_back_on = context.business_date)
