-- Every discrepancy of docs/rules.md's types for the checkouts of the business date, one row each,
-- with a deterministic discrepancy_id (md5 of type and subject) so reruns, alerts and resolutions
-- line up across days. Succeeded payments only; an "order" is a non-cancelled order. The findings
-- are every rule's (intermediate/int_rule_findings.sql); a type's severity comes from the registry,
-- seeds/discrepancy_types.csv. Each finding names the version of its rule (a hash of the rule's SQL
-- file, which the engine adds to each member of the union) and the run that found it.
select
    md5(concat(found.type, ':', found.subject_id)) as discrepancy_id,
    found.type,
    types.severity,
    found.checkout_id,
    found.amount_minor,
    found.currency,
    context.business_date,
    found.details,
    found.subject_id,
    found.model_version as rule_version,
    context.run_id
from int_rule_findings as found
-- every type is registered (a test keeps it so): an inner join drops nothing
inner join seeds.discrepancy_types as types on found.type = types.type
cross join int_run_context as context
