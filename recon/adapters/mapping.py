"""A mapping: how one provider export becomes rows of one contract source, validated by pydantic.
docs/adapters.md describes every key; `mapping_files.py` reads one from YAML or TOML and
`mapping_sql.py` turns it into SQL.

Values in a mapping are data, never SQL: names are quoted as identifiers and values as literals
when the query is built, so a column called `a"; drop table x` is only an odd column name."""

import re
import string
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from recon.contract import SOURCES, Kind, Source


def _as_text(value: object) -> object:
    """YAML reads `true`, `1` and `2.5` as bool and numbers; the provider's values are text (JSON
    `true` is read as the text `true`, as the contract's readers do), so compare as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text)]
Names = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class _Strict(BaseModel):
    # A misspelt key would silently map nothing: fail instead.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """One test on a provider column; a row passes a list of conditions when it passes all."""

    column: str
    equals: Text | None = None
    in_: list[Text] | None = Field(default=None, alias="in")
    not_in: list[Text] | None = None
    present: bool | None = Field(default=None, description="true: the value is not blank")

    @model_validator(mode="after")
    def _one_test(self) -> "Condition":
        tests = [self.equals, self.in_, self.not_in, self.present]
        if sum(t is not None for t in tests) != 1:
            raise ValueError("a condition needs exactly one of equals, in, not_in, present")
        return self


Conditions = Annotated[
    list[Condition], BeforeValidator(lambda v: [v] if isinstance(v, dict) else v)
]


class Sum(_Strict):
    """An amount that is the total of several provider columns (Adyen's four fee columns; a
    credit less a debit), each a decimal in the same units."""

    add: Names = Field(default=[], description="columns added")
    subtract: Names = Field(default=[], description="columns subtracted")

    @model_validator(mode="after")
    def _some_column(self) -> "Sum":
        if not self.add and not self.subtract:
            raise ValueError("a sum needs at least one column in add or subtract")
        return self

    @property
    def columns(self) -> list[str]:
        return [*self.add, *self.subtract]


class Case(_Strict):
    when: Conditions
    then: Text | None = None
    from_: str | None = Field(default=None, alias="from")
    sum: Sum | None = None

    @model_validator(mode="after")
    def _one_value(self) -> "Case":
        if len([v for v in (self.then, self.from_, self.sum) if v is not None]) != 1:
            raise ValueError(
                "a case needs exactly one of then (a value), from (a column) or sum (columns)"
            )
        return self


# Forms a timestamp may take besides a strptime format (which contains a `%`).
TIMESTAMP_FORMS = ("iso", "unix_seconds", "unix_milliseconds", "unix_microseconds")

# A fixed UTC offset, as a `zones` entry may give one: `+01:00`.
OFFSET = re.compile(r"[+-](0[0-9]|1[0-4]):[0-5][0-9]")

# One value of a repeated key/value record (GA4's `event_params`): `event_params[key=currency]`.
PARAM = re.compile(r"(?P<column>[^\[\]]+)\[key=(?P<key>[^\[\]]+)\]")


def param_of(name: str) -> tuple[str, str] | None:
    """(column, key) of a `column[key=...]` reference, None for a plain column name."""
    match = PARAM.fullmatch(name)
    return (match["column"], match["key"]) if match else None


def base_column(name: str) -> str:
    """The provider column a reference reads: `event_params` for `event_params[key=value]`."""
    param = param_of(name)
    return param[0] if param else name


def _is_zone(value: str) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class TimestampParse(_Strict):
    formats: Names = Field(
        min_length=1,
        description="tried in order: iso, unix_seconds, unix_milliseconds or a strptime format",
    )
    timezone: str = Field(default="UTC", description="for values that carry no offset")
    timezone_from: str | None = Field(
        default=None, description="a provider column naming each row's zone (else `timezone`)"
    )
    zones: dict[str, str] = Field(
        default={}, description="that column's values as IANA names or offsets: {CET: '+01:00'}"
    )

    @field_validator("formats")
    @classmethod
    def _known_forms(cls, value: list[str]) -> list[str]:
        for form in value:
            if form not in TIMESTAMP_FORMS and "%" not in form:
                raise ValueError(
                    f"unknown timestamp format {form!r}: use {', '.join(TIMESTAMP_FORMS)} or a "
                    "strptime format such as '%Y-%m-%d %H:%M:%S %z'"
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not _is_zone(value):
            raise ValueError(f"unknown time zone {value!r} (an IANA name: Europe/Berlin)")
        return value

    @field_validator("zones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for name, zone in value.items():
            # Region/City names only: abbreviations (CET, BST) are what `zones` translates.
            region = ("/" in zone or zone == "UTC") and _is_zone(zone)
            if not (OFFSET.fullmatch(zone) or region):
                raise ValueError(
                    f"{name}: {zone!r} is neither an IANA Region/City time zone (Europe/Berlin) "
                    "nor a UTC offset (+01:00)"
                )
        return value

    @model_validator(mode="after")
    def _zones_need_a_column(self) -> "TimestampParse":
        if self.zones and self.timezone_from is None:
            raise ValueError("zones translate the values of timezone_from: name that column")
        return self


class MinorUnits(_Strict):
    currency: str = Field(description="the mapped column whose currency gives the exponent")


class ColumnSpec(_Strict):
    """Where one value comes from (exactly one of from, const, template, cases, sum), then what is
    done to it (url_param, map, blank, negate_when, timestamp, minor_units)."""

    from_: Names | None = Field(default=None, alias="from")
    const: Text | None = None
    template: str | None = None
    cases: list[Case] | None = None
    sum: Sum | None = Field(
        default=None, description="the total of decimal columns, blank ones counting as zero"
    )
    else_: Text | None = Field(default=None, alias="else")
    url_param: str | None = None
    map: dict[Text, Text] | None = None
    blank: list[Text] | None = Field(
        default=None, description="values that mean no value: `(not set)`, `(direct)`"
    )
    negate_when: Conditions | None = Field(
        default=None, description="rows whose amount the export signs the other way (a refund)"
    )
    timestamp: TimestampParse | None = None
    minor_units: MinorUnits | None = None
    missing: str | None = Field(
        default=None, description="why the export may lack the value: added to its quarantine"
    )

    @model_validator(mode="after")
    def _one_origin(self) -> "ColumnSpec":
        origins = [self.from_, self.const, self.template, self.cases, self.sum]
        if len([o for o in origins if o is not None]) != 1:
            raise ValueError("a column needs exactly one of from, const, template, cases, sum")
        if self.else_ is not None and self.cases is None and self.sum is None:
            raise ValueError("else only goes with cases or sum")
        if self.sum is not None and (self.timestamp or self.url_param):
            raise ValueError("a sum is an amount: no timestamp or url_param")
        if self.timestamp and self.minor_units:
            raise ValueError("a value is a timestamp or an amount, not both")
        if self.negate_when is not None and (self.timestamp or self.template):
            raise ValueError("negate_when changes an amount's sign: not on a timestamp or template")
        return self

    @property
    def references(self) -> list[str]:
        """The mapped names a template reads."""
        if self.template is None:
            return []
        return [name for _, name, _, _ in string.Formatter().parse(self.template) if name]


_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


class Mapping(_Strict):
    name: str = Field(description="the adapter's name: lower-case letters, digits, _")
    target: Literal[tuple(SOURCES)]
    provider: str
    document: str = Field(description="the provider's document the columns come from (URL)")
    description: str = ""
    format: Literal["csv", "jsonl", "parquet", "auto"] = Field(
        default="auto", description="auto: by the file's extension (.csv, .jsonl, .parquet)"
    )
    pattern: str = Field(default="*", description="the files of a folder this mapping reads")
    filter: Conditions = []
    group_by: Names = Field(default=[], description="collapse rows sharing these columns")
    let: dict[str, ColumnSpec] = Field(default={}, description="named values for templates")
    columns: dict[str, ColumnSpec]

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r}: lower-case letters, digits and _, starting with a letter")
        return value

    @property
    def source(self) -> Source:
        return SOURCES[self.target]

    @model_validator(mode="after")
    def _fits_the_contract(self) -> "Mapping":
        kinds = {c.name: c.kind for c in self.source.columns}
        unknown = sorted(set(self.columns) - set(kinds))
        if unknown:
            raise ValueError(
                f"columns.{unknown[0]}: not a {self.target} column; the contract's: "
                f"{', '.join(kinds)}"
            )
        missing = [c.name for c in self.source.columns if c.required and c.name not in self.columns]
        if missing:
            raise ValueError(f"columns: required {self.target} column(s) not mapped: {missing}")
        clash = sorted(set(self.let) & set(kinds))
        if clash:
            raise ValueError(f"let.{clash[0]}: a contract column's name; name it differently")
        for name, spec in self.columns.items():
            _check_column(name, spec, kinds[name], self)
        for name, spec in self.let.items():
            if spec.timestamp or spec.minor_units or spec.template or spec.negate_when or spec.sum:
                raise ValueError(
                    f"let.{name}: a let value is plain text (no template, sum or parsing)"
                )
        return self


def _check_column(name: str, spec: ColumnSpec, kind: Kind, mapping: Mapping) -> None:
    if spec.timestamp and kind is not Kind.TIMESTAMP:
        raise ValueError(f"columns.{name}: timestamp parsing on a {kind} column")
    if spec.negate_when is not None and kind is not Kind.INTEGER:
        raise ValueError(f"columns.{name}: negate_when on a {kind} column")
    if spec.sum is not None and kind is not Kind.INTEGER:
        raise ValueError(f"columns.{name}: sum on a {kind} column")
    if spec.minor_units:
        if kind is not Kind.INTEGER:
            raise ValueError(f"columns.{name}: minor_units on a {kind} column")
        currency = mapping.columns.get(spec.minor_units.currency)
        if currency is None or currency.template or currency.minor_units:
            raise ValueError(
                f"columns.{name}: minor_units.currency must name a mapped column that is not a "
                f"template: {spec.minor_units.currency!r}"
            )
    # Templates read plain values (other columns' text, lets), never other templates.
    plain = {n for n, s in mapping.columns.items() if not s.template and not s.minor_units}
    for reference in spec.references:
        if reference not in plain | set(mapping.let):
            raise ValueError(
                f"columns.{name}: template names {reference!r}, which is neither a let nor a "
                "mapped column without a template or unit conversion"
            )
