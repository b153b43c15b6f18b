"""`recon adapters list | check | convert`: providers' exports mapped into the landing contract
(docs/adapters.md)."""

import sys
from pathlib import Path

import click

from pipelines.cli_params import examples

ADAPTER_HELP = (
    "A built-in adapter's name (`recon adapters list`) or a mapping file's path (.yaml, .toml)."
)


def _adapter_option():
    return click.option("--adapter", "adapter", required=True, help=ADAPTER_HELP)


def _file_option(help: str):
    # Not `exists=True`: the check below names the problem the same way for a file and a folder.
    return click.option("--file", "file", type=click.Path(path_type=Path), required=True, help=help)


@click.group(
    name="adapters",
    epilog=examples(
        "recon adapters list",
        "recon adapters check --adapter stripe_charges --file charges.csv",
        "recon adapters convert --adapter shopify_orders --file orders_export_1.csv "
        "--landing data/landing",
    ),
)
def adapters() -> None:
    """Map providers' exports (Stripe, Adyen, Shopify, Segment, GA4, or any file a mapping
    describes) into the landing contract, as a step before `recon run`."""


@adapters.command(name="list", epilog=examples("recon adapters list"))
def list_adapters() -> None:
    """The built-in adapters: name, the source they feed, the provider and its document."""
    from recon.adapters.registry import builtin_mappings

    mappings = builtin_mappings()
    # Aligned on the longest name and source, whatever adapters there are.
    name_width = max(len(m.name) for m in mappings)
    target_width = max(len(m.target) for m in mappings)
    for mapping in mappings:
        click.echo(
            f"{mapping.name:<{name_width}} -> {mapping.target:<{target_width}} {mapping.provider}"
        )
        click.echo(f"{'':<4}{mapping.document}")
        click.echo(f"{'':<4}{mapping.description}")


def _load(adapter: str):
    from recon.adapters.mapping_files import MappingError
    from recon.adapters.registry import UnknownAdapterError, load_adapter

    try:
        return load_adapter(adapter)
    except (MappingError, UnknownAdapterError) as error:
        raise click.BadParameter(str(error), param_hint="--adapter") from error


def _inputs(file: Path, pattern: str) -> list[Path]:
    """The file, or a folder's files matching the mapping's pattern (hidden files skipped)."""
    if file.is_file():
        return [file]
    if file.is_dir():
        found = sorted(p for p in file.glob(pattern) if p.is_file() and p.name[0] not in "._")
        if found:
            return found
        raise click.BadParameter(f"{file} holds no file matching {pattern!r}", param_hint="--file")
    raise click.BadParameter(f"{file} does not exist", param_hint="--file")


def _map(mapping, path: Path, action):
    from recon.adapters.apply import UnknownFormatError
    from recon.readers import UnreadableFileError

    try:
        return action(mapping, path)
    except (UnreadableFileError, UnknownFormatError) as error:
        raise click.BadParameter(str(error), param_hint="--file") from error


@adapters.command(
    name="check",
    epilog=examples(
        "recon adapters check --adapter stripe_charges --file charges.csv",
        "recon adapters check --adapter segment_track --file exports/ --show 3",
        "recon adapters check --adapter my_mapping.toml --file export.csv",
    ),
)
@_adapter_option()
@_file_option("The provider's export, or a folder: its files matching the adapter's pattern.")
@click.option(
    "--show", type=click.IntRange(0), default=10, show_default=True,
    help="How many rows that would load, and quarantined rows, to print per file.",
)  # fmt: skip
def check(adapter: str, file: Path, show: int) -> None:
    """Map an export in memory and report what would load and what would be quarantined, with
    each quarantined row's line and reason. Writes nothing and touches no warehouse. Exits 1 if
    any row would be quarantined (a gate before `convert`), 0 if every row maps."""
    from recon.adapters.apply import apply_mapping

    mapping = _load(adapter)
    quarantined = 0
    for path in _inputs(file, mapping.pattern):
        mapped = _map(mapping, path, apply_mapping)
        click.echo(mapped.describe())
        _print_rows(mapped.rows.to_pylist()[:show], mapped.rows.num_rows)
        _print_quarantine(mapped.quarantine.to_pylist()[:show], mapped.quarantine.num_rows)
        quarantined += mapped.quarantine.num_rows
    if quarantined:
        click.echo(f"exit 1: {quarantined} row(s) would be quarantined", err=True)
        sys.exit(1)


def _print_rows(rows: list[dict], total: int) -> None:
    if rows:
        click.echo(f"  would load ({len(rows)} of {total} shown):")
    for row in rows:
        origin = row.pop("adapter_origin")
        values = " ".join(f"{k}={v}" for k, v in row.items() if v is not None)
        click.echo(f"    {origin}  {values}")


def _print_quarantine(rows: list[dict], total: int) -> None:
    if rows:
        click.echo(f"  quarantined ({len(rows)} of {total} shown):")
    for row in rows:
        click.echo(f"    line {row['line']}  {row['reason']}: {row['detail']}")


@adapters.command(
    name="convert",
    epilog=examples(
        "recon adapters convert --adapter shopify_orders --file orders_export_1.csv "
        "--landing data/landing",
        "recon adapters convert --adapter stripe_charges --file exports/ --landing data/landing",
        "recon adapters convert --adapter my_mapping.yaml --file export.csv --landing landing",
    ),
)
@_adapter_option()
@_file_option("The provider's export, or a folder: its files matching the adapter's pattern.")
@click.option(
    "--landing", type=click.Path(path_type=Path, file_okay=False), required=True,
    help="Landing directory to write <source>/<YYYY-MM-DD>/<adapter>-<file>-00.parquet into.",
)  # fmt: skip
def convert(adapter: str, file: Path, landing: Path) -> None:
    """Write an export's mapped rows as contract landing files (Parquet, one per landing date),
    and the rows that do not map, with their reasons, to <landing>/<source>/_quarantine/.
    Converting the same file again replaces its files. Then reconcile with `recon run`."""
    from recon.adapters.convert import convert_file

    mapping = _load(adapter)
    for path in _inputs(file, mapping.pattern):
        conversion = _map(mapping, path, lambda m, p: convert_file(m, p, landing))
        click.echo(conversion.describe())
