-- The payment provider's settlement report: one row per line (a capture settled, a refund, a
-- chargeback and its reversal, the provider's own fees and adjustments), each in a payout.
-- Holds the rows ingestion stored: those of CSV and JSON-lines files, service snapshots and
-- Parquet files with a bad or untidy row. A Parquet file whose every row met the contract is read
-- in place instead (meta.ingested_files.read_in_place); the models read both.
create table if not exists raw.settlements (
    _partition_date date not null,
    _landing_date date not null,
    _source_file varchar not null,
    _line bigint not null,
    _loaded_at timestamp not null,
    settlement_line_id varchar not null,
    payout_id varchar not null,
    psp_reference varchar,
    line_type varchar not null check (
        lower(line_type) in (
            'charge', 'refund', 'chargeback', 'chargeback_reversal', 'fee', 'adjustment'
        )
    ),
    gross_minor bigint not null,
    fee_minor bigint not null check (fee_minor >= 0),
    net_minor bigint not null check (net_minor = gross_minor - fee_minor),
    currency varchar not null,
    settled_at timestamp not null,
    _extra varchar
);
