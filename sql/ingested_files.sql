-- One row per landing file read for a partition: the row-conservation ledger. A Parquet file whose
-- every row met the contract is read in place (read_in_place): its rows are not copied into
-- raw.<source>, and its size and modification time tell whether it is still the file checked.
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
    read_in_place boolean not null default false,
    file_bytes bigint,
    file_mtime_ns bigint,
    check (rows_read = rows_loaded + rows_quarantined)
);
-- Warehouses written before files were read in place gain the columns (their files were stored).
alter table meta.ingested_files add column if not exists read_in_place boolean default false;
alter table meta.ingested_files add column if not exists file_bytes bigint;
alter table meta.ingested_files add column if not exists file_mtime_ns bigint;
