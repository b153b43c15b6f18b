-- materialized: ephemeral
-- One row per payment_id (a re-exported row is dropped and counted in source_rows), with the
-- enums normalised and whether its idempotency key follows the `{checkout_id}:{step}` rule.
-- Never stored: each model reading it reads the landed rows of IDs that landed once, and the
-- copy stg_payment_copies names of the others, an anti-join that costs next to nothing
-- when none repeats (a left join of every row to it, then a filter, misled the planner into
-- running out of memory at 10M).
-- Text arrives trimmed, blanks as null (ingestion stores it so, and reads a file in place only
-- when trim() would change none of its values), so staging trims nothing.
with single_rows as (
    select landed.*, 1 as source_rows
    from raw.payments as landed
    anti join stg_payment_copies as copies on landed.payment_id = copies.payment_id
),

kept_copies as (
    select landed.*, copies.source_rows
    from raw.payments as landed
    inner join stg_payment_copies as copies
        on
            landed.payment_id = copies.payment_id
            and landed._source_file = copies.kept_source_file
            and landed._line = copies.kept_line
),

deduplicated as (
    select * from single_rows
    union all
    select * from kept_copies
)

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
