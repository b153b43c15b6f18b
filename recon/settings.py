"""One settings object for the whole pipeline, validated by pydantic and overridable by environment
variables (`RECON_LANDING_DIR`, `RECON_LOOKBACK_DAYS`, ...) or a `.env` file."""

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from recon.adapters.registry import load_adapter
from recon.cash_settings import FeeSchedule, Tolerances
from recon.contract import SOURCES
from recon.service_source import SERVICE_SOURCES


class ReconSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECON_", env_file=".env", extra="ignore")

    landing_dir: Path = Field(
        Path("data/landing"), description="Root of `<source>/<YYYY-MM-DD>/` landing folders."
    )
    warehouse_path: Path = Field(
        Path("data/warehouse.duckdb"), description="The DuckDB warehouse file."
    )
    out_dir: str = Field(
        "data/out/{date}",
        description="Where exports go; `{date}` is replaced by the partition's date.",
    )
    lookback_days: int = Field(
        3, ge=0, le=31, description="Later (and earlier) days of landing data read per partition."
    )
    reservation_ttl_minutes: int = Field(
        30, gt=0, description="A reserve with no release or commit after this is orphaned."
    )
    capture_sla_hours: int = Field(
        24, gt=0, description="An authorization neither captured nor voided after this is flagged."
    )
    amount_tolerance_minor: int = Field(
        0, ge=0, description="Largest order-vs-capture difference that is not a mismatch."
    )
    settlement_sla_days: int = Field(
        3,
        gt=0,
        description="A succeeded capture with no charge line in the settlement report once the "
        "report's clock is this many dates past the capture's is capture_not_settled; read "
        "windows (lookback_days) shorter than this never see one late.",
    )
    fee_schedule: FeeSchedule = Field(
        default_factory=FeeSchedule,
        description="The payment provider's fees, as JSON: currency (or `*`) -> percent, "
        "fixed_minor, chargeback_fee_minor, tolerance_minor (docs/settlement.md); none means "
        'fees are not checked. E.g. {"EUR": {"percent": "1.4", "fixed_minor": 25}}.',
    )
    tolerances: Tolerances = Field(
        default_factory=Tolerances,
        description="Per rule and currency (or `*`), the differences that are not a finding, "
        "as JSON: rule -> currency -> absolute_minor, relative (docs/settlement.md). E.g. "
        '{"payout_mismatch": {"*": {"relative": "0.0001"}}}.',
    )
    idempotency_warn_rate: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Warn when more than this share of keys breaks {checkout_id}:{step}.",
    )
    alerts_config: Path | None = Field(
        None, description="Alert routing, YAML or TOML; none means console only."
    )
    web_config: Path | None = Field(
        None,
        description="`recon web`: its users (name, role, password or API-key hash), YAML or TOML.",
    )
    # Checked by `recon web` when it starts (32 characters or more), not here: a short secret
    # must not stop the daily run.
    web_session_secret: SecretStr | None = Field(
        None,
        description="`recon web`: the key that signs session cookies; none means a new random key "
        "at each start (everyone signs in again after a restart).",
    )
    web_url: str | None = Field(
        None,
        description="Where `recon web` is served (https://recon.example.com): the reports link "
        "each listed discrepancy to its case page there; none means no links.",
    )
    partitions_start: date = Field(
        date(2025, 1, 1), description="First business date of the daily partitions."
    )
    source_mode: Literal["landing", "services"] = Field(
        "landing",
        description="Where orders, payments, inventory moves and fulfillments come from: landing "
        "files, or the reference service's databases (analytics events: always landing files).",
    )
    services_database_url: str | None = Field(
        None,
        description="services mode: the services' SQLAlchemy URL (one schema per service on "
        "PostgreSQL); none means one SQLite file per service under services_data_dir.",
    )
    services_data_dir: Path = Field(
        Path("data/services"), description="services mode: the services' SQLite files."
    )
    services_schema_prefix: str = Field(
        "", description="services mode: prefix of each service's PostgreSQL schema."
    )
    read_in_place: bool = Field(
        True,
        description="Read a Parquet landing file whose every row meets the contract where it "
        "lands instead of copying its rows into the warehouse. Set false when landing files are "
        "deleted or rewritten after ingestion: the models read them again later.",
    )
    adapters: dict[str, str] = Field(
        default_factory=dict,
        description="Landing source -> adapter (a built-in adapter's name or a mapping file's "
        "path), as JSON: that source's landing files are the provider's exports, read through "
        'the adapter (docs/adapters.md). E.g. {"payments": "stripe_charges"}.',
    )
    duckdb_memory_limit: str | None = Field(
        None, description="DuckDB memory_limit (e.g. '4GB'); DuckDB spills to disk beyond it."
    )
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="What reads the landing files and builds the models: DuckDB in this "
        "process, or Apache Spark (local threads, a standalone cluster or Spark Connect).",
    )
    spark_master: str = Field(
        "local[*]",
        description="spark engine: `local[N]`, a standalone master `spark://host:7077`, or a "
        "Spark Connect server `sc://host:15002`.",
    )
    spark_warehouse_dir: str | None = Field(
        None,
        description="spark engine: where Spark keeps its tables (a folder every executor "
        "reaches); none means `<warehouse file>.spark/` beside the DuckDB file.",
    )
    spark_driver_memory: str | None = Field(
        None,
        description="spark engine, local or standalone: the driver's memory (e.g. '8g'); "
        "none means 4g for a local master (the driver is the executor there), Spark's "
        "default otherwise.",
    )

    @field_validator("web_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or any(c in value for c in "\"'<> "):
            raise ValueError(f"web_url must be an http(s) URL, not {value!r}")
        return value.rstrip("/")

    @field_validator("fee_schedule", mode="before")
    @classmethod
    def _fee_schedule(cls, value: object) -> FeeSchedule:
        return FeeSchedule.parse(value)

    @field_validator("tolerances", mode="before")
    @classmethod
    def _tolerances(cls, value: object) -> Tolerances:
        return Tolerances.parse(value)

    @field_validator("out_dir")
    @classmethod
    def _out_dir_template(cls, value: str) -> str:
        try:
            value.format(date="2000-01-01")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"out_dir may only use the {{date}} placeholder: {exc}") from exc
        return value

    @field_validator("adapters")
    @classmethod
    def _adapters(cls, value: dict[str, str]) -> dict[str, str]:
        problems = [
            p for source, adapter in value.items() if (p := _adapter_problem(source, adapter))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _adapters_fit_the_run(self) -> "ReconSettings":
        if not self.adapters:
            return self
        # The Spark engine reads landing files itself and has no adapter reader.
        if self.engine == "spark":
            raise ValueError(
                "adapters are read by the duckdb engine only: convert the exports with "
                "`recon adapters convert` for the spark engine, or run with engine duckdb "
                f"(adapters configured: {_listed(self.adapters)})"
            )
        served = [
            s for s in self.adapters if self.source_mode == "services" and s in SERVICE_SOURCES
        ]
        if served:
            raise ValueError(
                f"adapters for {', '.join(served)}: services mode reads those sources from the "
                "service databases, not landing files"
            )
        return self

    def out_for(self, day: date) -> Path:
        return Path(self.out_dir.format(date=day.isoformat()))

    @property
    def spark_tables_root(self) -> str:
        """Where the Spark engine's tables live."""
        if self.spark_warehouse_dir:
            return self.spark_warehouse_dir
        return str(self.warehouse_path.with_name(self.warehouse_path.name + ".spark").absolute())


def _listed(adapters: dict[str, str]) -> str:
    return ", ".join(f"{source}={adapter}" for source, adapter in adapters.items())


def _adapter_problem(source: str, adapter: str) -> str | None:
    """What is wrong with `source` read through `adapter`, naming both; None when it fits."""
    if source not in SOURCES:
        known = ", ".join(SOURCES)
        return f"adapters: {source}={adapter}: no landing source {source!r} (sources: {known})"
    try:
        mapping = load_adapter(adapter)
    except ValueError as exc:
        return f"adapters: {source}={adapter}: {exc}"
    if mapping.target != source:
        return (
            f"adapters: {source}={adapter}: the adapter {mapping.name} feeds {mapping.target}, "
            f"not {source}"
        )
    return None
