"""The reference checkout service: the orchestrator (saga, outbox, recovery), the downstream
services it calls, their idempotency store and databases, the supervisor that serves them, and the
export of their databases as landing rows. The data generators and the simulator that drive it
are in `testdata`."""
