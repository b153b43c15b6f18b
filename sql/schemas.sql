-- Warehouse schemas, one per layer. `meta` holds bookkeeping (file log, run parameters).
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists meta;
