-- Orders as exported by the order service. A later row for the same order_id supersedes an
-- earlier one (greater updated_at); staging keeps the latest.
-- Holds the rows ingestion stored: those of CSV and JSON-lines files, service snapshots and
-- Parquet files with a bad or untidy row. A Parquet file whose every row met the contract is read
-- in place instead (meta.ingested_files.read_in_place); the models read both.
create table if not exists raw.orders (
    _partition_date date not null,
    _landing_date date not null,
    _source_file varchar not null,
    _line bigint not null,
    _loaded_at timestamp not null,
    order_id varchar not null,
    checkout_id varchar not null,
    idempotency_key varchar not null,
    customer_id varchar,
    status varchar not null check (lower(status) in ('placed', 'cancelled')),
    currency varchar not null,
    subtotal_minor bigint not null check (subtotal_minor >= 0),
    tax_minor bigint not null check (tax_minor >= 0),
    total_minor bigint not null check (total_minor >= 0),
    created_at timestamp not null,
    updated_at timestamp not null,
    utm_source varchar,
    utm_medium varchar,
    utm_campaign varchar,
    referrer varchar,
    _extra varchar
);
