-- The references that name more than one succeeded payment of a kind: a payment's partial refunds
-- under its reference, a checkout captured twice under its authorization's. Few or none on most
-- days; int_settlement_lines ranks the candidates of these lines only, and joins every other line
-- to its one payment without ranking. Stored on its own: inside int_settlement_lines a grouping
-- of every payment (a hash of reference, kind and amount, with the scans it fed) made that model
-- run out of memory at the 2200MB limit at 10M checkouts.
select psp_reference, kind, count(*) as payments
from stg_payments
where status = 'succeeded' and kind in ('capture', 'refund') and psp_reference is not null
group by psp_reference, kind
having count(*) > 1
