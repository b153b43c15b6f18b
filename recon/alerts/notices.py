"""What a notice holds. IDs, types, severities, amounts and currencies only: no personal data."""

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import overload

import pyarrow as pa
import pyarrow.compute as pc

from recon.currencies import format_money


@dataclass(frozen=True)
class Item:
    discrepancy_id: str
    type: str
    severity: str
    checkout_id: str | None
    amount_minor: int | None
    currency: str | None


ITEM_FIELDS = [f.name for f in fields(Item)]
ITEM_SCHEMA = pa.schema(
    [
        ("discrepancy_id", pa.string()),
        ("type", pa.string()),
        ("severity", pa.string()),
        ("checkout_id", pa.string()),
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
    ]
)


def largest_first(item: Item) -> tuple[int, str]:
    """The order a digest lists its items in: the largest amount first, ties by discrepancy ID,
    no amount (or zero) after every positive one."""
    return (-(item.amount_minor or -1), item.discrepancy_id)


class Discrepancies(Sequence[Item]):
    """Items kept column-wise in an Arrow table: a day can bring a million of them and callers
    mostly want how many (`len`) and the largest few (`largest`). An `Item` is built only for
    what is read; they come in discrepancy ID order (sorted on first read unless `ordered`).
    Compares equal to a list or tuple of the same items."""

    def __init__(self, table: pa.Table | None = None, *, ordered: bool = False) -> None:
        self._table = ITEM_SCHEMA.empty_table() if table is None else table.select(ITEM_FIELDS)
        self._ordered = ordered

    def _sorted(self) -> pa.Table:
        if not self._ordered:
            self._table = self._table.sort_by("discrepancy_id")
            self._ordered = True
        return self._table

    def __len__(self) -> int:
        return self._table.num_rows

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> "Discrepancies": ...

    def __getitem__(self, index: int | slice) -> "Item | Discrepancies":
        if isinstance(index, slice):
            positions = range(*index.indices(len(self)))
            return Discrepancies(self._sorted().take(list(positions)), ordered=True)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("discrepancy index out of range")
        return _items(self._sorted().slice(index, 1))[0]

    def __iter__(self) -> Iterator[Item]:
        for batch in self._sorted().to_batches(max_chunksize=10_000):
            yield from _items(batch)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Discrepancies | list | tuple):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Discrepancies({len(self)} item(s))"

    def largest(self, count: int) -> list[Item]:
        """The `count` largest, in `largest_first` order."""
        if count <= 0 or not len(self):
            return []
        amount = self._table.column("amount_minor")
        key = pa.table(
            {
                "key": pc.fill_null(pc.if_else(pc.equal(amount, 0), None, amount), -1),
                "id": self._table.column("discrepancy_id"),
            }
        )
        top = pc.select_k_unstable(
            key, min(count, len(self)), sort_keys=[("key", "descending"), ("id", "ascending")]
        )
        return sorted(_items(self._table.take(top)), key=largest_first)


def _items(rows: pa.Table | pa.RecordBatch) -> list[Item]:
    columns = rows.to_pydict()
    return [Item(*row) for row in zip(*(columns[name] for name in ITEM_FIELDS), strict=True)]


@dataclass(frozen=True)
class CheckFailure:
    name: str
    description: str


@dataclass(frozen=True)
class Notice:
    notice_id: str
    channel: str
    kind: str
    business_date: date
    mode: str  # "digest" or "each"
    items: tuple[Item, ...] = ()
    # A digest lists only the largest items; `total` and `total_minor` summarise all of them.
    total: int = 0
    total_minor: dict[str, int] = field(default_factory=dict)
    checks: tuple[CheckFailure, ...] = ()
    # The discrepancy a per-discrepancy notice is about. A digest does not carry the IDs it
    # covers (a day can have a million): `alerts.notice_items` is the record of what went out,
    # and delivery loads them from there for a channel that needs every one (PagerDuty). Older
    # payloads still list them here.
    discrepancy_ids: tuple[str, ...] = ()

    def to_json(self) -> str:
        data = asdict(self)
        data["business_date"] = self.business_date.isoformat()
        if not self.discrepancy_ids:
            del data["discrepancy_ids"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Notice":
        data = json.loads(text)
        return cls(
            notice_id=data["notice_id"],
            channel=data["channel"],
            kind=data["kind"],
            business_date=date.fromisoformat(data["business_date"]),
            mode=data["mode"],
            items=tuple(Item(**item) for item in data["items"]),
            total=data["total"],
            total_minor=data["total_minor"],
            checks=tuple(CheckFailure(**check) for check in data["checks"]),
            discrepancy_ids=tuple(data.get("discrepancy_ids", ())),
        )

    @property
    def title(self) -> str:
        day = self.business_date.isoformat()
        if self.kind == "check_failed":
            return f"[recon {day}] {len(self.checks)} data-quality check(s) failed"
        verb = _VERBS[self.kind]
        if self.mode == "each" and len(self.items) == 1:
            item = self.items[0]
            return f"[recon {day}] {verb} {item.severity} {item.type}: {money(item)}"
        return f"[recon {day}] {self.total} {verb} discrepanc{'y' if self.total == 1 else 'ies'}"

    def lines(self) -> list[str]:
        """The body as plain lines, shared by the text-based channels."""
        if self.kind == "check_failed":
            return [f"{check.name}: {check.description}" for check in self.checks]
        lines = [
            f"{item.severity} {item.type} {money(item)} "
            f"discrepancy {item.discrepancy_id} checkout {item.checkout_id or '-'}"
            for item in self.items
        ]
        if self.mode == "digest":
            totals = ", ".join(
                format_money(minor, cur) for cur, minor in sorted(self.total_minor.items())
            )
            lines.append(f"total at risk: {totals or 'n/a'}")
            if self.total > len(self.items):
                lines.append(f"... and {self.total - len(self.items)} more (largest listed)")
        return lines


# How a title names each kind of discrepancy notice; `escalate`: its case is open past its SLA.
_VERBS = {"new": "new", "resolve": "resolved", "escalate": "overdue"}


def money(item: Item) -> str:
    if item.amount_minor is None:
        return "no amount"
    return format_money(item.amount_minor, item.currency)


def notice_id(*parts: object) -> str:
    """Deterministic: the same channel, kind and content always give the same ID, so a rerun
    finds the notice already in the outbox instead of enqueuing a second copy."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]
