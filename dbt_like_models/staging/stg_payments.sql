-- One row per payment_id (a re-exported row is dropped and counted in source_rows), with the
-- enums normalised and whether its idempotency key follows the `{checkout_id}:{step}` rule.
-- Almost every payment arrives once: only the IDs seen more than once go through the window that
-- picks their first copy (a window over every row cost twice as much). Each CTE reads the raw table
-- itself and values are normalised last: a CTE read twice is materialised, which spilled gigabytes
-- at 10M.
with repeated_ids as (
    select
        payment_id,
        count(*) as source_rows
    from raw.payments
    group by payment_id
    having count(*) > 1
),

single_copies as (
    select
        landed.*,
        1 as source_rows
    from raw.payments as landed
    where not exists (
        select 1 from repeated_ids where repeated_ids.payment_id = landed.payment_id
    )
),

ranked_copies as (
    select
        landed.*,
        repeated_ids.source_rows,
        row_number() over (
            partition by landed.payment_id
            order by landed._landing_date, landed._source_file, landed._line
        ) as copy_rank
    from raw.payments as landed
    inner join repeated_ids on repeated_ids.payment_id = landed.payment_id
),

first_copies as (
    select * exclude (copy_rank) from ranked_copies where copy_rank = 1
),

deduplicated as (
    select * from single_copies
    union all
    select * from first_copies
)

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
