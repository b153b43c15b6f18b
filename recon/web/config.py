"""The users file of `recon web` (YAML or TOML), validated by pydantic: who may sign in, with
which role, and the hash of their password or API key (never the secret itself).

    users:
      - name: alice
        role: operator
        password_hash: "scrypt$n=16384,r=8,p=1$…$…"
      - name: month-end-script
        role: reader
        api_key_hash: "scrypt$n=16384,r=8,p=1$…$…"
"""

import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from recon.web.passwords import HOW_TO_HASH, ScryptHash, parse_hash

ROLES = ("reader", "operator")
Role = Literal[ROLES]

NO_USERS = (
    "no users: `recon web` needs a users file (YAML or TOML) with at least one user, given as "
    "--config or RECON_WEB_CONFIG, e.g.\n"
    "  users:\n"
    "    - name: alice\n"
    "      role: operator\n"
    '      password_hash: "<what `recon web hash-password` prints>"\n'
    "(docs/web.md)"
)


def _scrypt_hash(value: object) -> ScryptHash:
    if isinstance(value, ScryptHash):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "scrypt_hash", "a hash must be a string ({how})", {"how": HOW_TO_HASH}
        )
    try:
        return parse_hash(value)
    except ValueError as error:
        raise PydanticCustomError("scrypt_hash", "{reason}", {"reason": str(error)}) from None


Hash = Annotated[ScryptHash, BeforeValidator(_scrypt_hash)]


class _Strict(BaseModel):
    # A misspelled key (`pasword_hash`) must fail loudly, not leave a user unable to sign in.
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class WebUser(_Strict):
    name: str = Field(min_length=1, max_length=64, description="recorded as the actor in the log")
    role: Role
    password_hash: Hash | None = Field(None, description="signs in with the form")
    api_key_hash: Hash | None = Field(None, description="reads with `Authorization: Bearer`")

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if value != value.strip() or not value.isprintable():
            raise ValueError("a name must be printable, without leading or trailing spaces")
        return value

    @model_validator(mode="after")
    def _has_a_secret(self) -> "WebUser":
        if self.password_hash is None and self.api_key_hash is None:
            raise ValueError(
                f"user {self.name!r} has neither password_hash nor api_key_hash ({HOW_TO_HASH})"
            )
        return self

    @property
    def can_act(self) -> bool:
        return self.role == "operator"

    def fingerprint(self) -> str:
        """Changes when the user's password hash or role changes: a session signed before then
        ends (see `sessions`)."""
        text = f"{self.role}:{self.password_hash}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class WebConfig(_Strict):
    users: list[WebUser]
    session_hours: float = Field(
        12, gt=0, le=24 * 31, description="a session ends this long after its sign-in"
    )

    @field_validator("users")
    @classmethod
    def _some_unique_users(cls, users: list[WebUser]) -> list[WebUser]:
        if not users:
            raise ValueError(NO_USERS)
        names = [user.name for user in users]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"duplicate user name(s) {twice}")
        return users

    def user(self, name: str) -> WebUser | None:
        return next((user for user in self.users if user.name == name), None)


def load_web_config(path: Path | str) -> WebConfig:
    """Read a `.yaml`/`.yml` or `.toml` users file. ValueError (pydantic's ValidationError is
    one) names the file and the field."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml", ".toml"):
        raise ValueError(f"{path}: the users file must be .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except OSError as error:
        raise ValueError(f"{path}: cannot read it: {error.strerror or error}") from error
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: not valid {path.suffix[1:].upper()}: {error}") from error
    if not isinstance(data, dict) or "users" not in data:
        raise ValueError(f"{path}: {NO_USERS}")
    try:
        return WebConfig.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"{path}: {describe(error)}") from None


def describe(error: ValidationError) -> str:
    """Each problem as `users.1.role: what is wrong`, without pydantic's links and inputs (an
    input may be a hash: it has no place in a terminal's scrollback)."""
    return "\n".join(
        f"{'.'.join(map(str, problem['loc'])) or 'file'}: "
        + problem["msg"].removeprefix("Value error, ")
        for problem in error.errors()
    )
