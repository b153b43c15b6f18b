-- Every rule's findings for the checkouts of the business date, one row each: the union of the
-- rule models, intermediate/int_discrepancy_<type>.sql, each its own model (one plan per rule
-- stays small enough to spill, where a single plan of all rules ran out of memory). The engine
-- writes the union from the directive below: a new rule is found by its file name alone.
-- materialized: ephemeral
-- union of: int_discrepancy_*
select checkout_id, type, subject_id, amount_minor, currency, details
