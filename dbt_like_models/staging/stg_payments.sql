-- materialized: ephemeral
-- One row per payment_id (a re-exported row is dropped and counted in source_rows), with the
-- enums normalised and whether its idempotency key follows the `{checkout_id}:{step}` rule.
-- Text arrives trimmed, blanks as null (ingestion stores it so, and reads a file in place only
-- when trim() would change none of its values), so staging trims nothing.
-- deduplicated: raw.payments by payment_id, kept rows from stg_payment_copies
select
    payment_id,
    checkout_id,
    surrogate_key(checkout_id) as checkout_key,
    surrogate_key(payment_id) as payment_key,
    idempotency_key,
    lower(kind) as kind,
    lower(status) as status,
    amount_minor,
    upper(currency) as currency,
    created_at,
    psp_reference,
    parent_payment_id,
    surrogate_key(parent_payment_id) as parent_key,
    failure_code,
    idempotency_key = concat(
        checkout_id,
        ':payment.',
        case lower(kind)
            when 'authorization' then 'authorize'
            else lower(kind)
        end
    ) as key_follows_rule,
    source_rows
from deduplicated
