"""Test data and its ground truth, beside the service and the pipeline: the landing-file
generators (`synthetic` per checkout, `bulk` vectorised, `flows` their row builders), the
simulator that drives the real checkout service through faults (`simulator`, `faults`), the
SIGKILL chaos run (`chaos`, `chaos_audit`) and the scoring of a run against what was injected
(`scoring`). The pipeline never imports it (`lint-imports`)."""
