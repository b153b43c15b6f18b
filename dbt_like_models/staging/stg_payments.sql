-- One row per payment_id (a re-exported row is dropped and counted in source_rows), with the
-- enums normalised and whether its idempotency key follows the `{checkout_id}:{step}` rule.
with copies as (
    select
        payment_id,
        checkout_id,
        idempotency_key,
        lower(kind) as kind,
        lower(status) as status,
        amount_minor,
        upper(currency) as currency,
        created_at,
        nullif(trim(psp_reference), '') as psp_reference,
        nullif(trim(parent_payment_id), '') as parent_payment_id,
        nullif(trim(failure_code), '') as failure_code,
        row_number() over (
            partition by payment_id
            order by _landing_date, _source_file, _line
        ) as copy_rank,
        count(*) over (partition by payment_id) as source_rows
    from raw.payments
)

select
    payment_id,
    checkout_id,
    idempotency_key,
    kind,
    status,
    amount_minor,
    currency,
    created_at,
    psp_reference,
    parent_payment_id,
    failure_code,
    idempotency_key = concat(
        checkout_id,
        ':payment.',
        case kind
            when 'authorization' then 'authorize'
            else kind
        end
    ) as key_follows_rule,
    source_rows
from copies
where copy_rank = 1
