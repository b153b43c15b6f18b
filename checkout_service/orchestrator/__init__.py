"""The checkout orchestrator: the public checkout API and the saga behind it.

`create_app(settings)` serves `POST /v1/checkouts`, `GET /v1/checkouts/{id}` and
`POST /v1/checkouts/{id}/cancel`. The saga (fraud → tax → inventory reserve → payment authorize →
order → commit reservation) keeps its recovery points in the orchestrator's own database; capture
and the fulfillment request leave through a transactional outbox that `process_outbox` delivers.
`recover` resumes sagas a crash stopped part-way.
"""
