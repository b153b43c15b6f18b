-- materialized: ephemeral
-- One row per payment_id (a re-exported row is dropped and counted in source_rows), with the
-- enums normalised and whether its idempotency key follows the `{checkout_id}:{step}` rule.
-- Never stored: each model reading it reads the landed rows once, keeping for a repeated ID only
-- the copy stg_payment_copies names.
select
    landed.payment_id,
    landed.checkout_id,
    landed.idempotency_key,
    lower(landed.kind) as kind,
    lower(landed.status) as status,
    landed.amount_minor,
    upper(landed.currency) as currency,
    landed.created_at,
    nullif(trim(landed.psp_reference), '') as psp_reference,
    nullif(trim(landed.parent_payment_id), '') as parent_payment_id,
    nullif(trim(landed.failure_code), '') as failure_code,
    landed.idempotency_key = concat(
        landed.checkout_id,
        ':payment.',
        case lower(landed.kind)
            when 'authorization' then 'authorize'
            else lower(landed.kind)
        end
    ) as key_follows_rule,
    coalesce(copies.source_rows, 1) as source_rows
from raw.payments as landed
left join stg_payment_copies as copies on landed.payment_id = copies.payment_id
where
    copies.payment_id is null
    or (landed._source_file = copies.kept_source_file and landed._line = copies.kept_line)
