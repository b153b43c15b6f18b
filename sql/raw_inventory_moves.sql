-- Stock reservations and their outcome: every reserve should end in a release or a commit.
-- Holds the rows ingestion stored: those of CSV and JSON-lines files, service snapshots and
-- Parquet files with a bad or untidy row. A Parquet file whose every row met the contract is read
-- in place instead (meta.ingested_files.read_in_place); the models read both.
create table if not exists raw.inventory_moves (
    _partition_date date not null,
    _landing_date date not null,
    _source_file varchar not null,
    _line bigint not null,
    _loaded_at timestamp not null,
    move_id varchar not null,
    checkout_id varchar not null,
    idempotency_key varchar not null,
    reservation_id varchar not null,
    sku varchar not null,
    quantity bigint not null check (quantity > 0),
    kind varchar not null check (lower(kind) in ('reserve', 'release', 'commit')),
    created_at timestamp not null,
    _extra varchar
);
