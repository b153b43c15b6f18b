-- Payment attempts and their outcomes from the PSP. capture, void and refund rows point to their
-- authorization through parent_payment_id.
-- Holds the rows ingestion stored: those of CSV and JSON-lines files, service snapshots and
-- Parquet files with a bad or untidy row. A Parquet file whose every row met the contract is read
-- in place instead (meta.ingested_files.read_in_place); the models read both.
create table if not exists raw.payments (
    _partition_date date not null,
    _landing_date date not null,
    _source_file varchar not null,
    _line bigint not null,
    _loaded_at timestamp not null,
    payment_id varchar not null,
    checkout_id varchar not null,
    idempotency_key varchar not null,
    kind varchar not null check (lower(kind) in ('authorization', 'capture', 'void', 'refund')),
    status varchar not null check (lower(status) in ('succeeded', 'failed', 'pending')),
    amount_minor bigint not null check (amount_minor > 0),
    currency varchar not null,
    created_at timestamp not null,
    psp_reference varchar,
    parent_payment_id varchar,
    failure_code varchar,
    _extra varchar
);
