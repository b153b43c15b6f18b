-- duplicate_settlement of the business date: a capture of the day's checkouts settled by more than
-- one charge line (distinct line IDs: a re-exported line is one line). The money beyond one line
-- was paid to us twice and will be clawed back.
-- The payments two or more charge lines name, found from the payment IDs alone: the lines' other
-- columns are aggregated for these few only (every line's, grouped by payment: 11 s at 10M).
with repeated_payments as (
    select payment_id
    from int_settlement_lines
    where line_type = 'charge' and payment_id is not null
    group by payment_id
    having count(*) > 1
),

repeated as (
    select
        lines.payment_id,
        min(lines.checkout_id) as checkout_id,
        min(lines.checkout_key) as checkout_key,
        count(*) as charge_lines,
        sum(lines.gross_minor) as settled_minor,
        max(lines.gross_minor) as largest_minor,
        min(lines.payment_amount_minor) as captured_minor,
        min(lines.payment_currency) as currency,
        min(lines.settlement_line_id) as first_line_id,
        max(lines.settlement_line_id) as last_line_id
    from int_settlement_lines as lines
    semi join repeated_payments on lines.payment_id = repeated_payments.payment_id
    where lines.line_type = 'charge'
    group by lines.payment_id
)

select
    repeated.checkout_id,
    'duplicate_settlement' as type,
    repeated.payment_id as subject_id,
    repeated.settled_minor - repeated.largest_minor as amount_minor,
    repeated.currency,
    cast(to_json(struct_pack(
        payment_id := repeated.payment_id,
        charge_lines := repeated.charge_lines,
        captured_minor := repeated.captured_minor,
        settled_minor := repeated.settled_minor,
        first_line_id := repeated.first_line_id,
        last_line_id := repeated.last_line_id
    )) as varchar) as details
from repeated
inner join int_checkouts_of_day as checkouts on repeated.checkout_key = checkouts.checkout_key
