-- settlement_without_capture of the business date: a charge line, settled on the business date,
-- whose psp_reference names no succeeded capture (the provider took money we have no record of
-- taking: a capture recorded as failed after a timeout, or one made outside checkout). No
-- checkout explains it: the line is its subject.
with context as (
    select * from int_run_context
)

select
    cast(null as varchar) as checkout_id,
    'settlement_without_capture' as type,
    lines.settlement_line_id as subject_id,
    lines.gross_minor as amount_minor,
    lines.currency,
    cast(to_json(struct_pack(
        settlement_line_id := lines.settlement_line_id,
        psp_reference := lines.psp_reference,
        payout_id := lines.payout_id,
        settled_at := cast(lines.settled_at as varchar)
    )) as varchar) as details
from int_settlement_lines as lines
cross join context
where
    lines.line_type = 'charge'
    and lines.payment_id is null
    and lines.settled_on = context.business_date
