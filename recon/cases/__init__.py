"""Cases people act on (issue 15): every discrepancy gets a case, and every decision about it is
kept in an append-only, hash-chained log in the warehouse.

Import from the modules, each named after what it holds (the package itself imports nothing, so
that `recon.cases.vocabulary` loads without DuckDB):

- `schema`: the `cases.cases` and `cases.events` tables;
- `vocabulary`: statuses, actions, resolutions;
- `events`: an event (the case's state after it), reading and appending the log;
- `chain`: how an event is hashed, and `verify`, which walks the chain;
- `sync`: after a run, open, clear and reopen the cases of its partition;
- `actions`: acknowledge, assign, resolve, reopen, note, and which status allows which;
- `queries`: the work list, one case with its history, finding a case by ID prefix;
- `errors`: what the above refuse, in words fit to show a person.
"""
