"""The built-in adapters (`builtin/*.yaml`, shipped as package data) and custom mapping files
(YAML or TOML)."""

from pathlib import Path

from recon.adapters.mapping import Mapping
from recon.adapters.mapping_files import SUFFIXES, load_mapping

BUILTIN_DIR = Path(__file__).parent / "builtin"


class UnknownAdapterError(ValueError):
    pass


def builtin_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml"))


def builtin_mappings() -> list[Mapping]:
    return [load_mapping(BUILTIN_DIR / f"{name}.yaml") for name in builtin_names()]


def load_adapter(name_or_path: str) -> Mapping:
    """A built-in adapter by name, or a mapping file by its path (`.yaml`, `.yml`, `.toml`)."""
    path = Path(name_or_path)
    if path.suffix in SUFFIXES:
        if not path.is_file():
            raise UnknownAdapterError(f"{path}: no such mapping file")
        return load_mapping(path)
    if name_or_path not in builtin_names():
        known = ", ".join(builtin_names())
        raise UnknownAdapterError(
            f"no adapter named {name_or_path!r}; built in: {known}, or give a mapping file's path"
        )
    return load_mapping(BUILTIN_DIR / f"{name_or_path}.yaml")
