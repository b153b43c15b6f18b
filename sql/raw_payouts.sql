-- The payment provider's payouts: what it sent to the merchant's bank account, and when it
-- arrives there. Holds the rows ingestion stored: those of CSV and JSON-lines files, service
-- snapshots and Parquet files with a bad or untidy row. A Parquet file whose every row met the
-- contract is read in place instead (meta.ingested_files.read_in_place); the models read both.
create table if not exists raw.payouts (
    _partition_date date not null,
    _landing_date date not null,
    _source_file varchar not null,
    _line bigint not null,
    _loaded_at timestamp not null,
    payout_id varchar not null,
    amount_minor bigint not null,
    currency varchar not null,
    status varchar not null check (lower(status) in ('paid', 'failed')),
    arrival_date timestamp not null,
    created_at timestamp not null,
    _extra varchar
);
