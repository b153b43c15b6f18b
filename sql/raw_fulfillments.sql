-- Fulfillment requests and status changes; the latest row per fulfillment_id wins.
-- Holds the rows ingestion stored: those of CSV and JSON-lines files, service snapshots and
-- Parquet files with a bad or untidy row. A Parquet file whose every row met the contract is read
-- in place instead (meta.ingested_files.read_in_place); the models read both.
create table if not exists raw.fulfillments (
    _partition_date date not null,
    _landing_date date not null,
    _source_file varchar not null,
    _line bigint not null,
    _loaded_at timestamp not null,
    fulfillment_id varchar not null,
    checkout_id varchar not null,
    order_id varchar not null,
    status varchar not null check (lower(status) in ('requested', 'shipped', 'cancelled')),
    created_at timestamp not null,
    updated_at timestamp not null,
    _extra varchar
);
