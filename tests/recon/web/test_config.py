"""The users file: YAML or TOML, and every mistake named by its field."""

import pytest

from recon.web.config import load_web_config
from recon.web.passwords import hash_secret, parse_hash, verify_secret

HASH = hash_secret("pw")


def _write(tmp_path, text: str, name: str = "web.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_and_toml_give_the_same_users(tmp_path):
    yaml_file = _write(
        tmp_path,
        f"users:\n  - name: alice\n    role: operator\n    password_hash: '{HASH}'\n"
        "session_hours: 8\n",
    )
    toml_file = _write(
        tmp_path,
        f'session_hours = 8\n[[users]]\nname = "alice"\nrole = "operator"\n'
        f'password_hash = "{HASH}"\n',
        "web.toml",
    )
    assert load_web_config(yaml_file) == load_web_config(toml_file)
    alice = load_web_config(yaml_file).user("alice")
    assert alice.can_act and verify_secret("pw", alice.password_hash)
    assert load_web_config(yaml_file).session_hours == 8


@pytest.mark.parametrize(
    ("users", "says"),
    [
        ("- {name: alice, role: operator}", "users.0: .*neither password_hash nor api_key_hash"),
        ("- {name: alice, role: admin, password_hash: 'x'}", "users.0.role: Input should be"),
        ("- {name: alice, role: reader, password_hash: nope}", "users.0.password_hash: not a "),
        ("- {name: alice, role: reader, api_key_hash: nope}", "users.0.api_key_hash: not a "),
        ("- {name: alice, role: reader, pasword_hash: 'x'}", "users.0.pasword_hash: Extra"),
        ("- {name: ' alice', role: reader, api_key_hash: 'x'}", "users.0.name: a name must"),
        ("[]", "users: no users"),
    ],
)
def test_a_mistake_names_the_file_and_the_field(tmp_path, users, says):
    users = users.replace("'x'", f"'{HASH}'")
    path = _write(tmp_path, f"users:\n  {users}\n" if users != "[]" else "users: []\n")
    with pytest.raises(ValueError, match=says) as refused:
        load_web_config(path)
    assert str(refused.value).startswith(f"{path}: ")


def test_two_users_of_one_name_are_refused(tmp_path):
    user = f"- {{name: alice, role: reader, password_hash: '{HASH}'}}"
    path = _write(tmp_path, f"users:\n  {user}\n  {user}\n")
    with pytest.raises(ValueError, match=r"users: duplicate user name\(s\) \['alice'\]"):
        load_web_config(path)


def test_a_file_without_users_says_how_to_write_one(tmp_path):
    with pytest.raises(ValueError, match="no users") as refused:
        load_web_config(_write(tmp_path, "session_hours: 3\n"))
    assert "recon web hash-password" in str(refused.value)


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("web.json", "{}", "must be .yaml, .yml or .toml"),
        ("web.yaml", "users: [", "not valid YAML"),
        ("web.toml", "users = [", "not valid TOML"),
    ],
)
def test_an_unreadable_file_is_refused(tmp_path, name, text, says):
    with pytest.raises(ValueError, match=says):
        load_web_config(_write(tmp_path, text, name))


def test_the_hash_is_never_repeated_in_an_error(tmp_path):
    stored = str(parse_hash(HASH))
    path = _write(tmp_path, f"users:\n  - {{name: a, role: boss, password_hash: '{stored}'}}\n")
    with pytest.raises(ValueError) as refused:
        load_web_config(path)
    assert stored not in str(refused.value)
