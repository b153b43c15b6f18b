"""The public checkout API.

Checks run in this order (docs/service-api.md): the API key (401), then the Idempotency-Key
(400), then the body (422); none of them is stored. The key's lock is the idempotency store's;
the saga runs between its own short transactions, and the answer is stored for replay once the
saga is terminal. An unexpected failure answers 500 and keeps the recovery point: a retry with
the same key (or `recover`) resumes the saga where it stopped.
"""

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError

from checkout_service.db import is_retryable_conflict
from checkout_service.idempotency import (
    IdempotencyKey,
    Lock,
    StoredResponse,
    fingerprint,
    key_in_flight,
    key_responses,
    key_reused,
    replay_or_refusal,
)
from checkout_service.orchestrator.clients import OutcomeUnknown
from checkout_service.orchestrator.runtime import Orchestrator, build_orchestrator
from checkout_service.orchestrator.saga import SagaBusy
from checkout_service.orchestrator.schemas import CancelRequest, CheckoutRequest
from checkout_service.orchestrator.settings import OrchestratorSettings
from checkout_service.orchestrator.steps import Answer, checkout_view
from checkout_service.orchestrator.store import ATTRIBUTION, Checkout, KeyReused
from checkout_service.problems import (
    PROBLEM_MEDIA_TYPE,
    ProblemError,
    install_problem_handler,
    problem_response,
    problem_responses,
    render_json,
)

log = logging.getLogger(__name__)
# What a client waits before retrying a checkout whose step outcome is not known yet.
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Caller:
    merchant_id: str
    # Idempotency keys are scoped to the API key, as Stripe does. The scope holds a digest, so
    # the database never stores a secret.
    scope: str


def _authenticate(orchestrator: Orchestrator) -> Callable[[Request], Awaitable[Caller]]:
    # `async`: it never blocks, and a plain `def` dependency costs a trip through FastAPI's thread
    # pool (see `checkout_service.idempotency.require_key`).
    async def authenticate(request: Request) -> Caller:
        header = request.headers.get("Authorization", "")
        api_key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        merchant_id = orchestrator.settings.api_keys.get(api_key)
        if merchant_id is None:
            raise ProblemError(
                401,
                "unauthenticated",
                "Invalid API key",
                "Send a valid API key as `Authorization: Bearer <key>`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:32]
        return Caller(merchant_id, f"{merchant_id}:{digest}")

    return authenticate


def create_app(
    settings: OrchestratorSettings | None = None, orchestrator: Orchestrator | None = None
) -> FastAPI:
    """`orchestrator` (from `build_orchestrator`) carries injected clients, hooks and clock."""
    orch = orchestrator or build_orchestrator(settings)
    app = FastAPI(title="Checkout orchestrator")
    app.state.orchestrator = orch
    install_problem_handler(app)
    CallerDep = Annotated[Caller, Depends(_authenticate(orch))]

    def idempotent(
        caller: Caller, key: str, request: Request, body: Any, run: Callable[[], Answer]
    ) -> Response:
        path = request.url.path
        begin = orch.keys.begin(caller.scope, key, fingerprint("POST", path, body), "POST", path)
        refusal = replay_or_refusal(begin)
        if refusal is not None:
            return refusal
        assert begin.lock is not None
        return _complete(orch, begin.lock, run)

    def owned_checkout(checkout_id: str, caller: Caller) -> Checkout:
        # Another merchant's checkout is as unknown as a missing one: its ID tells nothing.
        checkout = orch.saga_store.get(checkout_id)
        if checkout is None or checkout.merchant_id != caller.merchant_id:
            raise ProblemError(
                404, "checkout-not-found", "Unknown checkout", f"No checkout {checkout_id}."
            )
        return checkout

    @app.post("/v1/checkouts", status_code=201, responses=key_responses(401, 402, 502, 503, 504))
    def create_checkout(
        caller: CallerDep, key: IdempotencyKey, body: CheckoutRequest, request: Request
    ) -> Response:
        request_fingerprint = fingerprint("POST", request.url.path, body)

        def run() -> Answer:
            checkout_id = orch.saga_store.open(
                caller.scope, key, request_fingerprint, caller.merchant_id, body
            )
            return orch.runner.run(checkout_id)

        return idempotent(caller, key, request, body, run)

    @app.get("/v1/checkouts/{checkout_id}", responses=problem_responses(401, 404))
    def get_checkout(checkout_id: str, caller: CallerDep) -> dict[str, Any]:
        checkout = owned_checkout(checkout_id, caller)
        return {
            **checkout_view(checkout),
            "recovery_point": checkout.recovery_point,
            "attribution": {name: checkout.row[name] for name in ATTRIBUTION},
            "compensations": [
                {"step": row["step"], "state": row["state"]}
                for row in orch.saga_store.compensations(checkout_id)
            ],
        }

    @app.post("/v1/checkouts/{checkout_id}/cancel", responses=key_responses(401, 404, 502, 503))
    def cancel_checkout(
        checkout_id: str,
        caller: CallerDep,
        key: IdempotencyKey,
        body: CancelRequest,
        request: Request,
    ) -> Response:
        owned_checkout(checkout_id, caller)
        return idempotent(caller, key, request, body, lambda: orch.runner.cancel(checkout_id))

    return app


def _complete(orch: Orchestrator, lock: Lock, run: Callable[[], Answer]) -> Response:
    try:
        answer = run()
    except KeyReused:
        orch.keys.release(lock)
        return key_reused()
    except SagaBusy:
        orch.keys.release(lock)
        return key_in_flight()
    except ProblemError:
        orch.keys.release(lock)
        raise
    except OutcomeUnknown as error:
        # Expected under network faults, not a bug: no traceback, and the client is told to
        # retry with the same key, which resumes the saga from its recovery point.
        orch.keys.pause(lock)
        log.warning("outcome unknown under idempotency key %s: %s", lock.key, error)
        return _outcome_unknown()
    except DBAPIError as error:
        orch.keys.release(lock)
        if is_retryable_conflict(error):
            return key_in_flight()
        log.exception("database error under idempotency key %s", lock.key)
        return _internal_error()
    except Exception:
        # The saga keeps its recovery point; a retry with the same key or `recover` resumes it.
        orch.keys.pause(lock)
        log.exception("checkout failed under idempotency key %s", lock.key)
        return _internal_error()
    media_type = PROBLEM_MEDIA_TYPE if answer.status_code >= 400 else "application/json"
    stored = StoredResponse(answer.status_code, render_json(answer.body), media_type)
    with orch.engine.begin() as conn:
        completed = orch.keys.complete(conn, lock, stored)
    if not completed:
        # A retry took the lock over; it finds the saga's answer in the checkout itself.
        return key_in_flight()
    return Response(stored.body, stored.status_code, media_type=stored.media_type)


def _outcome_unknown() -> Response:
    return problem_response(
        503,
        "outcome-unknown",
        "A step's outcome is not known yet",
        "A downstream service did not answer in time, so the checkout is paused at its last "
        "recovery point. Retry with the same Idempotency-Key to resume it.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _internal_error() -> Response:
    return problem_response(
        500,
        "internal-error",
        "Internal error",
        "The checkout stopped part-way and was kept; retrying with the same key resumes it.",
    )
