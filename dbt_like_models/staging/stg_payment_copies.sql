-- The payment IDs that landed more than once (a re-exported row), each with how many copies
-- landed and which copy staging keeps: the first to land. Almost every payment lands once, so this
-- stays small, and stg_payments reads each landed row once and looks it up here instead of ranking
-- every row.
-- Repeats are found by grouping the IDs' integer keys (cheaper than grouping the text), then
-- compared by the IDs themselves.
with repeated_keys as (
    select surrogate_key(payment_id) as id_key
    from raw.payments
    group by id_key
    having count(*) > 1
),

ranked_copies as (
    select
        landed.payment_id,
        landed._source_file,
        landed._line,
        count(*) over (partition by landed.payment_id) as source_rows,
        row_number() over (
            partition by landed.payment_id
            order by landed._landing_date, landed._source_file, landed._line
        ) as copy_rank
    from raw.payments as landed
    where surrogate_key(landed.payment_id) in (select repeated_keys.id_key from repeated_keys)
)

select
    payment_id,
    _source_file as kept_source_file,
    _line as kept_line,
    source_rows
from ranked_copies
-- the IDs compared exactly: a shared key alone is not proof of a repeat
where copy_rank = 1 and source_rows > 1
