-- One row per landing file read for a partition: the row-conservation ledger.
create table if not exists meta.ingested_files (
    _partition_date date not null,
    _landing_date date not null,
    source varchar not null,
    _source_file varchar not null,
    file_format varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    _loaded_at timestamp not null,
    check (rows_read = rows_loaded + rows_quarantined)
);
