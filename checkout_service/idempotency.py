"""Idempotency keys: a store in the service's own database and its FastAPI integration.

Follows the IETF Idempotency-Key draft and Stripe's published behaviour (the Idempotency-Key
table of docs/service-api.md):

- the lock is the INSERT of the key row, so two processes racing one key are decided by the
  database's unique constraint, never by a read-then-write in Python;
- the business writes and the stored response commit in one transaction, guarded by the lock's
  token, so a request whose lock was taken over (it outlived the lock timeout) cannot commit a
  second effect;
- declines and refusals a handler returns (or raises as `Refused`) are stored and replayed;
  unexpected errors and database races are not stored and release the lock, so a retry proceeds.

Retention: a key row lives `retention` (default 24 h) from its first request; after that the key
counts as new again. `IdempotencyStore.purge` deletes expired rows.

Fencing: a caller that gives up on a request whose outcome it never learnt (and compensates) must
know that request cannot still land later, say from a slow network. `fence` settles a key's fate
in one step: the outcome if the request ran, otherwise a tombstone that refuses it when it comes.
"""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.expression import Executable

from checkout_service.db import UTCDateTime, is_retryable_conflict, reading, utcnow
from checkout_service.problems import (
    PROBLEM_MEDIA_TYPE,
    ProblemError,
    problem_body,
    problem_response,
    problem_responses,
    render_json,
)

log = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_RETENTION = timedelta(hours=24)
DEFAULT_LOCK_TIMEOUT = timedelta(seconds=30)

# Visible ASCII without the quote and backslash: UUIDs and `{checkout_id}:{step}` keys fit.
_KEY_PATTERN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,255}")
JSON_MEDIA_TYPE = "application/json"

IN_FLIGHT = "in_flight"
COMPLETED = "completed"
FENCED = "fenced"


def define_table(metadata: MetaData) -> Table:
    """Add the key table to a service's metadata (each service keeps its keys in its own DB)."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(255), primary_key=True),
        Column("idempotency_key", String(255), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("request_method", String(10), nullable=False),
        Column("request_path", String(2048), nullable=False),
        Column("state", String(16), nullable=False),
        Column("lock_token", String(36), nullable=False),
        Column("locked_at", UTCDateTime, nullable=False),
        Column("response_status", Integer),
        Column("response_body", Text),
        Column("response_media_type", String(64)),
        Column("created_at", UTCDateTime, nullable=False),
        Column("completed_at", UTCDateTime),
        Column("expires_at", UTCDateTime, nullable=False),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )


def service_metadata() -> tuple[MetaData, Table]:
    """A service's table metadata, its key table already in it: every service keeps its keys in
    its own database, beside the records their requests wrote."""
    metadata = MetaData()
    return metadata, define_table(metadata)


def key_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of an idempotent route: the key's problems (missing or malformed 400, in
    flight 409, reused 422, internal 500) and the route's own problem `statuses`."""
    return problem_responses(400, 409, 422, 500, *statuses)


def parse_key(raw: str | None) -> str:
    """The key of a request header, or a 400 problem. The draft's quoted sf-string form is
    accepted as well as Stripe's bare token."""
    if raw is None or raw == "":
        raise ProblemError(
            400,
            "idempotency-key-missing",
            "Idempotency-Key header missing",
            f"This operation is idempotent and requires an {KEY_HEADER} header.",
        )
    key = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if not _KEY_PATTERN.fullmatch(key):
        raise ProblemError(
            400,
            "idempotency-key-malformed",
            "Idempotency-Key header malformed",
            "The key must be 1 to 255 visible ASCII characters without quotes or backslashes.",
        )
    return key


def canonical_payload(payload: BaseModel | Mapping[str, Any]) -> Any:
    """The business fields of a request body, as plain JSON data.

    A model may list fields that must not affect the fingerprint in `fingerprint_exclude`
    (attribution, tracing): a retry that differs only there is the same request.
    """
    if isinstance(payload, BaseModel):
        exclude = set(getattr(type(payload), "fingerprint_exclude", ()))
        return payload.model_dump(mode="json", exclude=exclude)
    return json.loads(json.dumps(payload, default=str))


def fingerprint(method: str, path: str, payload: BaseModel | Mapping[str, Any]) -> str:
    canonical = json.dumps(
        [method.upper(), path, canonical_payload(payload)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    media_type: str = JSON_MEDIA_TYPE

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class KeyRecord:
    scope: str
    key: str
    fingerprint: str
    request_method: str
    request_path: str
    state: str
    lock_token: str
    locked_at: datetime
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime
    response: StoredResponse | None


@dataclass(frozen=True)
class Lock:
    scope: str
    key: str
    token: str


@dataclass(frozen=True)
class Begin:
    """What `IdempotencyStore.begin` decided for a request."""

    kind: Literal["acquired", "replay", "in_flight", "mismatch", "busy", "fenced"]
    lock: Lock | None = None
    response: StoredResponse | None = None


class KeyInFlight(Exception):
    """A live request holds the key: its outcome is not decided yet."""


class _Statements:
    """The store's statements on one key table, built once: SQLAlchemy then compiles each once
    (its compiled cache) and only binds the values of a request, instead of building, hashing
    and looking up a new statement object per call."""

    def __init__(self, t: Table) -> None:
        # The row of (scope, key) as long as `token` still holds its lock.
        row = (
            t.c.scope == bindparam("b_scope"),
            t.c.idempotency_key == bindparam("b_key"),
            t.c.lock_token == bindparam("b_token"),
        )
        locked = (*row, t.c.state == IN_FLIGHT)
        self.claim = insert(t)
        self.get = select(t).where(*row[:2])
        self.take_over = (
            update(t)
            .where(*locked)
            .values(lock_token=bindparam("new_token"), locked_at=bindparam("new_locked_at"))
        )
        # Takes a stale lock over like `take_over`, and fences the key: its late request must
        # not complete.
        self.fence_over = self.take_over.values(state=FENCED)
        self.drop = delete(t).where(*row)
        self.complete = (
            update(t)
            .where(*locked)
            .values(
                state=COMPLETED,
                response_status=bindparam("new_status"),
                response_body=bindparam("new_body"),
                response_media_type=bindparam("new_media_type"),
                completed_at=bindparam("new_completed_at"),
            )
        )
        self.pause = update(t).where(*locked).values(locked_at=bindparam("new_locked_at"))
        self.release = delete(t).where(*locked)


class IdempotencyStore:
    def __init__(
        self,
        engine: Engine,
        table: Table,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.table = table
        self.retention = retention
        self.lock_timeout = lock_timeout
        self.clock = clock
        self._sql = _Statements(table)

    def begin(
        self, scope: str, key: str, request_fingerprint: str, method: str = "", path: str = ""
    ) -> Begin:
        """Take the key's lock, or say why not. Each write is its own short transaction."""
        for _attempt in range(3):
            now = self.clock()
            token = str(uuid.uuid4())
            busy = False
            try:
                self._claim(scope, key, IN_FLIGHT, token, now, request_fingerprint, method, path)
                return Begin("acquired", lock=Lock(scope, key, token))
            except IntegrityError:
                pass  # the key exists: decide below from its row
            except DBAPIError as error:
                # SQLite: another request holds the write lock past the busy timeout. The row,
                # if any, still tells a replay or a mismatch apart (WAL reads do not wait).
                if not is_retryable_conflict(error):
                    raise
                busy = True

            record = self.get(scope, key)
            if record is None:
                if busy:
                    return Begin("busy")
                continue  # released between our INSERT and our read
            if record.expires_at <= now:
                # Past retention the key is new again; drop the old row and race for it anew.
                if not self._drop(record):
                    return Begin("busy")
                continue
            if record.state == FENCED:
                return Begin("fenced")
            if record.fingerprint != request_fingerprint:
                return Begin("mismatch")
            if record.state == COMPLETED:
                return Begin("replay", response=record.response)
            if record.locked_at + self.lock_timeout > now:
                return Begin("in_flight")
            # The holder outlived its lock (crashed, or hung): take the lock over. Matching on the
            # old token makes the takeover atomic, and the old holder can no longer complete.
            taken = self._write(
                self._sql.take_over,
                {**_row(scope, key, record.lock_token), "new_token": token, "new_locked_at": now},
            )
            if taken == 1:
                return Begin("acquired", lock=Lock(scope, key, token))
        return Begin("in_flight")

    def fence(self, scope: str, key: str) -> KeyRecord | None:
        """Make sure a request under `key` either ran or never will: the completed record when
        it ran, None once the key is fenced (a request arriving later is refused). A holder past
        its lock timeout is fenced out like `begin` takes over its lock. Raises KeyInFlight
        while a live request holds the key."""
        for _attempt in range(3):
            now = self.clock()
            token = str(uuid.uuid4())
            try:
                self._claim(scope, key, FENCED, token, now)
                return None
            except IntegrityError:
                pass
            except DBAPIError as error:
                if not is_retryable_conflict(error):
                    raise
                raise KeyInFlight(key) from error
            record = self.get(scope, key)
            if record is None:
                continue
            if record.expires_at <= now:
                if not self._drop(record):
                    raise KeyInFlight(key)
                continue
            if record.state == FENCED:
                return None
            if record.state == COMPLETED:
                return record
            if record.locked_at + self.lock_timeout > now:
                raise KeyInFlight(key)
            taken = self._write(
                self._sql.fence_over,
                {**_row(scope, key, record.lock_token), "new_token": token, "new_locked_at": now},
            )
            if taken == 1:
                return None
        raise KeyInFlight(key)

    def _claim(
        self,
        scope: str,
        key: str,
        state: str,
        token: str,
        now: datetime,
        request_fingerprint: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        """INSERT the key's row: the unique constraint decides a race (IntegrityError)."""
        with self.engine.begin() as conn:
            conn.execute(
                self._sql.claim,
                {
                    "scope": scope,
                    "idempotency_key": key,
                    "fingerprint": request_fingerprint,
                    "request_method": method.upper(),
                    "request_path": path,
                    "state": state,
                    "lock_token": token,
                    "locked_at": now,
                    "created_at": now,
                    "expires_at": now + self.retention,
                },
            )

    def _drop(self, record: KeyRecord) -> bool:
        """Delete an expired key row; False on a lost race."""
        expired = _row(record.scope, record.key, record.lock_token)
        return self._write(self._sql.drop, expired) is not None

    def _write(self, statement: Executable, params: dict[str, Any]) -> int | None:
        """Run one statement in its own transaction; its row count, or None on a lost race."""
        try:
            with self.engine.begin() as conn:
                return conn.execute(statement, params).rowcount
        except DBAPIError as error:
            if is_retryable_conflict(error):
                return None
            raise

    def complete(self, conn: Connection, lock: Lock, response: StoredResponse) -> bool:
        """Store the response inside the caller's business transaction; False if the lock was
        lost (then the caller must roll back)."""
        done = conn.execute(
            self._sql.complete,
            {
                **_row(lock.scope, lock.key, lock.token),
                "new_status": response.status_code,
                "new_body": response.body.decode(),
                "new_media_type": response.media_type,
                "new_completed_at": self.clock(),
            },
        ).rowcount
        return done == 1

    def pause(self, lock: Lock) -> None:
        """Give up the lock but keep the key and its fingerprint: the request stopped part-way
        with its work kept (an unknown downstream outcome), so a retry with the same payload
        takes the lock over at once and resumes it, and another payload is still a 422."""
        with self.engine.begin() as conn:
            conn.execute(
                self._sql.pause,
                {
                    **_row(lock.scope, lock.key, lock.token),
                    "new_locked_at": self.clock() - self.lock_timeout,
                },
            )

    def release(self, lock: Lock) -> None:
        """Drop an in-flight key so a retry starts afresh (nothing of the attempt was kept)."""
        with self.engine.begin() as conn:
            conn.execute(self._sql.release, _row(lock.scope, lock.key, lock.token))

    def get(self, scope: str, key: str) -> KeyRecord | None:
        with reading(self.engine) as conn:
            row = conn.execute(self._sql.get, {"b_scope": scope, "b_key": key}).mappings().first()
        if row is None:
            return None
        response = None
        if row["state"] == COMPLETED:
            response = StoredResponse(
                row["response_status"],
                row["response_body"].encode(),
                row["response_media_type"] or JSON_MEDIA_TYPE,
            )
        return KeyRecord(
            scope=row["scope"],
            key=row["idempotency_key"],
            fingerprint=row["fingerprint"],
            request_method=row["request_method"],
            request_path=row["request_path"],
            state=row["state"],
            lock_token=row["lock_token"],
            locked_at=row["locked_at"],
            created_at=row["created_at"],
            completed_at=row["completed_at"],
            expires_at=row["expires_at"],
            response=response,
        )

    def purge(self, now: datetime | None = None) -> int:
        """Delete the keys past their retention; returns how many."""
        now = now or self.clock()
        with self.engine.begin() as conn:
            return conn.execute(delete(self.table).where(self.table.c.expires_at <= now)).rowcount


def _row(scope: str, key: str, token: str) -> dict[str, str]:
    """The parameters that name a key's row held under `token` (`_Statements`)."""
    return {"b_scope": scope, "b_key": key, "b_token": token}


# -- handlers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a handler answers; it is stored and replayed as is."""

    status_code: int
    body: Any
    media_type: str = JSON_MEDIA_TYPE


class Refused(Exception):
    """A permanent business refusal (decline, out of stock, capture above authorized...).

    Stored for replay like any outcome; the handler's writes before the raise are rolled back.
    """

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.body = problem_body(status, slug, title, detail, **extra)
        self.status = status

    def outcome(self) -> Outcome:
        return Outcome(self.status, self.body, PROBLEM_MEDIA_TYPE)


def problem_outcome(status: int, slug: str, title: str, detail: str, **extra: Any) -> Outcome:
    """A refusal a handler answers while keeping its writes (a declined payment is recorded as
    failed), where `Refused` would roll them back: stored and replayed like any outcome."""
    return Outcome(status, problem_body(status, slug, title, detail, **extra), PROBLEM_MEDIA_TYPE)


Handler = Callable[[Connection], Outcome]


class _LockLost(Exception):
    pass


# The dependencies a request resolves before its endpoint are `async def` (here and in the
# services and the orchestrator): they never block, and FastAPI runs a plain `def` dependency in
# its thread pool, a round trip between threads per dependency per request.
async def require_key(
    key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            description="Required. The client's key for this operation: 1 to 255 visible ASCII "
            "characters without quotes or backslashes (a UUID, say), bare or as a quoted "
            "sf-string. A retry with the same key and payload gets the first answer back "
            "instead of a second effect.",
        ),
    ] = None,
) -> str:
    """FastAPI dependency. Sub-dependencies run before the body is validated, so a missing key
    is a 400 even when the body is invalid too (the order of checks in docs/service-api.md).
    Declared optional so that FastAPI leaves the missing case to us (a 400, not its 422);
    documented as required."""
    return parse_key(key)


IdempotencyKey = Annotated[str, Depends(require_key)]


class Idempotency:
    """Runs mutating endpoints exactly once per (scope, key).

    `scope` names the caller of a request: the API key on the public API; downstream services
    are only called by the orchestrator and pass a constant.
    """

    def __init__(self, store: IdempotencyStore, scope: Callable[[Request], str]) -> None:
        self.store = store
        self.scope = scope

    def execute(
        self, request: Request, key: str, payload: BaseModel | Mapping[str, Any], handler: Handler
    ) -> Response:
        scope = self.scope(request)
        method, path = request.method, request.url.path
        begin = self.store.begin(scope, key, fingerprint(method, path, payload), method, path)
        answer = replay_or_refusal(begin)
        if answer is not None:
            return answer
        if begin.kind == "fenced":
            return problem_response(
                409,
                "idempotency-key-fenced",
                "Idempotency-Key fenced",
                "The caller gave up on this key before this request arrived; nothing was done, "
                "and nothing will be under this key.",
            )
        assert begin.lock is not None
        return self._run(begin.lock, handler)

    def _run(self, lock: Lock, handler: Handler) -> Response:
        try:
            with self.store.engine.begin() as conn:
                try:
                    with conn.begin_nested():
                        outcome = handler(conn)
                except Refused as refused:
                    outcome = refused.outcome()
                stored = StoredResponse(
                    outcome.status_code, render_json(outcome.body), outcome.media_type
                )
                if not self.store.complete(conn, lock, stored):
                    raise _LockLost
        except _LockLost:
            return _retry_conflict("The lock on this key was taken over by a retry.")
        except (ProblemError, HTTPException):
            # Refusals that are not outcomes (unknown resource...): not stored, retry allowed.
            self.store.release(lock)
            raise
        except DBAPIError as error:
            self.store.release(lock)
            if is_retryable_conflict(error):
                return _retry_conflict("A concurrent change won a database race.")
            log.exception("database error under idempotency key %s", lock.key)
            return _internal_error()
        except Exception:
            self.store.release(lock)
            log.exception("unexpected error under idempotency key %s", lock.key)
            return _internal_error()
        return Response(stored.body, stored.status_code, media_type=stored.media_type)

    def router(self) -> APIRouter:
        """`GET /v1/operations/{idempotency_key}`: the stored outcome of a key, so a caller whose
        response was lost can find out what happened instead of guessing."""
        router = APIRouter()

        @router.get("/v1/operations/{idempotency_key}", responses=problem_responses(404))
        def get_operation(idempotency_key: str, request: Request) -> dict[str, Any]:
            record = self.store.get(self.scope(request), idempotency_key)
            if record is None:
                raise ProblemError(
                    404,
                    "operation-not-found",
                    "Unknown idempotency key",
                    "No request with this key was executed (or its retention has passed).",
                )
            return _operation(record)

        @router.post(
            "/v1/operations/{idempotency_key}/fence", responses=problem_responses(400, 409)
        )
        def fence_operation(idempotency_key: str, request: Request) -> dict[str, Any]:
            """The outcome of the request under this key if it ran; otherwise the key is fenced
            (state `fenced`) and a request arriving under it later is refused with a 409. Itself
            idempotent: the key in the path is the operation's identity."""
            key = parse_key(idempotency_key)
            try:
                record = self.store.fence(self.scope(request), key)
            except KeyInFlight:
                raise ProblemError(
                    409,
                    "idempotency-request-in-flight",
                    "A request with this Idempotency-Key is in progress",
                    "Its outcome is not decided yet; fence it again later.",
                    headers={"Retry-After": "1"},
                ) from None
            return _operation(record) if record is not None else _fenced(key)

        return router


def _operation(record: KeyRecord) -> dict[str, Any]:
    if record.state == FENCED:
        return _fenced(record.key)
    answer: dict[str, Any] = {
        "idempotency_key": record.key,
        "state": record.state,
        "request_method": record.request_method,
        "request_path": record.request_path,
        "created_at": record.created_at.isoformat(),
        "completed_at": record.completed_at.isoformat() if record.completed_at else None,
        "status_code": None,
        "body": None,
    }
    if record.response is not None:
        answer["status_code"] = record.response.status_code
        answer["body"] = record.response.json()
    return answer


def _fenced(key: str) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "state": FENCED,
        "request_method": None,
        "request_path": None,
        "created_at": None,
        "completed_at": None,
        "status_code": None,
        "body": None,
    }


# The answers every idempotent endpoint gives alike, the orchestrator's included.


def replay_or_refusal(begin: Begin) -> Response | None:
    """The answer to a request that did not get its key's lock (a replay, a reused key, one
    in flight); None when it did. `fenced` is left to the caller: only services fence keys."""
    if begin.kind == "replay":
        assert begin.response is not None
        return replayed(begin.response)
    if begin.kind == "mismatch":
        return key_reused()
    if begin.kind in ("in_flight", "busy"):
        return key_in_flight()
    return None


def replayed(response: StoredResponse) -> Response:
    """The stored answer of a key, marked as a replay."""
    return Response(
        response.body,
        response.status_code,
        media_type=response.media_type,
        headers={REPLAYED_HEADER: "true"},
    )


def key_reused() -> Response:
    return problem_response(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused with a different payload",
        "This key was first used with a different request; a new request needs a new key.",
    )


def key_in_flight() -> Response:
    return problem_response(
        409,
        "idempotency-request-in-flight",
        "A request with this Idempotency-Key is in progress",
        "The first request with this key has not finished; retry later with the same key.",
        headers={"Retry-After": "1"},
    )


def _retry_conflict(detail: str) -> Response:
    return problem_response(
        409,
        "idempotency-retry",
        "Conflict: retry with the same Idempotency-Key",
        detail + " Nothing was kept; retry with the same key.",
        headers={"Retry-After": "1"},
    )


def _internal_error() -> Response:
    return problem_response(
        500,
        "internal-error",
        "Internal error",
        "The request failed and nothing was kept; retrying with the same key is safe.",
    )
