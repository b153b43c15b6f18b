"""`recon web ...`: serve the cases to finance in a browser, and make the hashes of its users
file. Registered lazily in `pipelines.cli`.

Only click is imported up here: `recon --help` imports this module to list the command, and
FastAPI, uvicorn and DuckDB would cost it most of a second."""

import socket
import sys
from pathlib import Path

import click

from pipelines.cli_params import examples, existing_warehouse, warehouse_option

MIN_SECRET = 32
NEW_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@click.group(
    name="web",
    invoke_without_command=True,
    epilog=examples(
        "recon web --config web.yaml                  # http://127.0.0.1:8088/",
        "recon web --host 127.0.0.1 --port 8088 --warehouse data/warehouse.duckdb "
        "--config web.yaml",
        "RECON_WEB_CONFIG=web.yaml recon web --port 0  # any free port, printed",
        "recon web hash-password                      # for the users file",
    ),
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. The default is this machine only; to serve others, put a TLS "
    "proxy in front (docs/web.md) rather than listening on 0.0.0.0.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8088,
    show_default=True,
    help="Port to listen on; 0 takes any free one (the address is printed).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Users file, YAML or TOML: names, roles (reader, operator) and hashes "
    "[default: RECON_WEB_CONFIG].",
)
@warehouse_option()
@click.pass_context
def web(
    ctx: click.Context, host: str, port: int, config_path: Path | None, warehouse: Path | None
) -> None:
    """Serve the cases in a browser: the work list with filters, each case with its evidence and
    history, and forms to acknowledge, assign, resolve, reopen and note.

    People sign in with a name and password from the users file (scripts read with an API key,
    `Authorization: Bearer`); a reader looks, an operator acts. Every action lands in the same
    log as `recon cases`, under the signed-in name. The warehouse is opened per request, so the
    daily run can take it between two clicks. docs/web.md has the users file and the security
    notes."""
    if ctx.invoked_subcommand is not None:
        return
    from recon.settings import ReconSettings

    settings = ReconSettings()
    path = existing_warehouse(warehouse)
    config = _users(config_path or settings.web_config)
    secret = _session_secret(settings)
    _serve(host, port, path, config, secret)


def _users(config_path: Path | None):
    from recon.web.config import NO_USERS, load_web_config

    if config_path is None:
        raise click.UsageError(NO_USERS)
    try:
        return load_web_config(config_path)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--config") from error


def _session_secret(settings) -> bytes | None:
    if settings.web_session_secret is None:
        click.echo(
            "note: RECON_WEB_SESSION_SECRET is not set: sessions are signed with a key made for "
            "this process, so everyone signs in again after a restart",
            err=True,
        )
        return None
    secret = settings.web_session_secret.get_secret_value()
    if len(secret) < MIN_SECRET:
        raise click.UsageError(
            f"RECON_WEB_SESSION_SECRET must be at least {MIN_SECRET} characters; make one "
            f"with: {NEW_SECRET}"
        )
    return secret.encode()


def _serve(host: str, port: int, warehouse: Path, config, secret: bytes | None) -> None:
    import uvicorn

    from recon.web.app import WebSettings, create_app

    app = create_app(WebSettings(warehouse=warehouse, config=config, session_secret=secret))
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.create_server((host, port), family=family)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from error
    bound = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"recon web: http://{shown}:{bound}/ serving {warehouse} to {len(config.users)} "
        "user(s); Ctrl-C stops it"
    )
    # proxy_headers: behind a TLS proxy on this machine, the scheme it forwards (https) is what
    # marks the session cookie Secure.
    server = uvicorn.Server(
        uvicorn.Config(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1", log_level="info")
    )
    server.run(sockets=[listener])


@web.command(
    name="hash-password",
    epilog=examples(
        "recon web hash-password      # asks twice without echo, or reads a line piped in",
    ),
)
def hash_password() -> None:
    """Print the scrypt hash of a password (or API key) to paste into the users file as
    `password_hash` (or `api_key_hash`). On a terminal it asks twice without echo; otherwise
    it reads one line from stdin."""
    from recon.web.passwords import hash_secret

    if sys.stdin.isatty():
        secret = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.UsageError("the password is empty: nothing to hash")
    click.echo(hash_secret(secret))


@web.command(name="new-api-key", epilog=examples("recon web new-api-key"))
def new_api_key() -> None:
    """Make a random API key for a script: prints the key (give it to the script; it is stored
    nowhere) and its hash (the user's `api_key_hash` in the users file)."""
    import secrets

    from recon.web.passwords import hash_secret

    key = secrets.token_urlsafe(32)
    click.echo(f"key:          {key}")
    click.echo(f"api_key_hash: {hash_secret(key)}")
