-- Rows that broke the contract, with where they came from and why. Never dropped silently:
-- for every file, rows read = rows loaded + rows quarantined (see meta.ingested_files).
create table if not exists raw.quarantine (
    _partition_date date not null,
    _landing_date date not null,
    source varchar not null,
    _source_file varchar not null,
    _line bigint not null,
    reason varchar not null,
    detail varchar not null,
    raw_text varchar,
    _loaded_at timestamp not null
);
