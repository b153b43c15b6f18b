-- Client-side analytics export. occurred_at is the browser's clock; received_at the collector's.
-- Holds the rows ingestion stored: those of CSV and JSON-lines files, service snapshots and
-- Parquet files with a bad or untidy row. A Parquet file whose every row met the contract is read
-- in place instead (meta.ingested_files.read_in_place); the models read both.
create table if not exists raw.analytics_events (
    _partition_date date not null,
    _landing_date date not null,
    _source_file varchar not null,
    _line bigint not null,
    _loaded_at timestamp not null,
    event_id varchar not null,
    event_name varchar not null check (
        lower(event_name) in (
            'checkout_viewed', 'checkout_started', 'checkout_completed', 'payment_failed'
        )
    ),
    anonymous_id varchar,
    session_id varchar,
    checkout_id varchar,
    occurred_at timestamp not null,
    received_at timestamp not null,
    utm_source varchar,
    utm_medium varchar,
    utm_campaign varchar,
    referrer varchar,
    revenue_minor bigint check (revenue_minor > 0),
    currency varchar,
    _extra varchar
);
