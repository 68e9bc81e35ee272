"""The credentials file `flowyard login` keeps, and how every command finds its token in it."""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from flowyard_builder import credentials as credentials_module
from flowyard_builder.api_client import LoginExpired, MissingSettings, client_from_args
from flowyard_builder.cli import main
from flowyard_builder.credentials import (
    Credentials,
    CredentialsError,
    Login,
    credentials_path,
    format_time,
    load_credentials,
    normalize_url,
)

NOW = datetime.now(timezone.utc)
ALPHA = "https://flowyard.alpha.example"
BRAVO = "https://flowyard.bravo.example"


def a_login(api: str = ALPHA, token: str = "fyp_alpha-secret", expires_in: timedelta = timedelta(days=30),
            signed_in_at: datetime = NOW, username: str = "ada") -> Login:
    """A login of `api` expiring `expires_in` from now."""
    return Login(api=api, token=token, token_id=f"id-{token}", username=username, expires_at=NOW + expires_in,
                 signed_in_at=signed_in_at)


def mode_of(path: Path) -> int:
    """A file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


def namespace(api: str | None = None, token: str | None = None) -> argparse.Namespace:
    """Parsed --api/--token as a command's handler gets them."""
    return argparse.Namespace(api=api, token=token)


@pytest.fixture
def no_connection_variables(monkeypatch):
    """Neither $FLOWYARD_API_URL nor $FLOWYARD_TOKEN is set."""
    monkeypatch.delenv("FLOWYARD_API_URL", raising=False)
    monkeypatch.delenv("FLOWYARD_TOKEN", raising=False)


@pytest.fixture
def permissive_umask():
    """A umask of 0, under which a file created with the default mode would be world-readable."""
    previous = os.umask(0)
    yield
    os.umask(previous)


# -- where the file is --------------------------------------------------------------------------------------

def test_the_file_is_under_xdg_config_home_or_where_the_override_says(tmp_path):
    home = Path.home()
    assert credentials_path({}) == home / ".config" / "flowyard" / "credentials.json"
    assert credentials_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "flowyard" / "credentials.json"
    assert credentials_path({"XDG_CONFIG_HOME": "relative/dir"}) == home / ".config" / "flowyard" / "credentials.json"
    assert credentials_path({"XDG_CONFIG_HOME": str(tmp_path), "FLOWYARD_CREDENTIALS_FILE": "~/creds.json"}) == (
        home / "creds.json")


def test_the_tests_never_touch_the_real_file(credentials_file):
    assert credentials_path() == credentials_file and not credentials_file.exists()


def test_urls_are_keyed_without_a_trailing_slash_or_case_in_the_host():
    assert normalize_url(" HTTPS://Flowyard.Example.COM/ ") == "https://flowyard.example.com"
    assert normalize_url("http://127.0.0.1:8000/base/") == "http://127.0.0.1:8000/base"


# -- writing: mode 0600, folder 0700, atomic ----------------------------------------------------------------

def test_a_new_file_is_0600_in_a_new_0700_folder_whatever_the_umask(credentials_file, permissive_umask):
    credentials = load_credentials()
    credentials.add(a_login())
    credentials.save()
    assert mode_of(credentials_file) == 0o600
    assert mode_of(credentials_file.parent) == 0o700
    assert mode_of(credentials_file.parent.parent) != 0o700  # only the folder of the file is made private


def test_an_existing_folder_keeps_its_mode(tmp_path, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    monkeypatch.setenv("FLOWYARD_CREDENTIALS_FILE", str(folder / "creds.json"))
    credentials = load_credentials()
    credentials.add(a_login())
    credentials.save()
    assert mode_of(folder) == 0o755 and mode_of(folder / "creds.json") == 0o600


def test_the_file_is_created_0600_from_its_first_byte_and_renamed_into_place(credentials_file, monkeypatch,
                                                                               permissive_umask):
    credentials = load_credentials()
    credentials.add(a_login(token="fyp_old"))
    credentials.save()
    old_inode = credentials_file.stat().st_ino
    opened, replaced = [], []
    real_open, real_replace = os.open, os.replace

    def spy_open(path, flags, mode=0o777, *args, **kwargs):
        opened.append((Path(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    def spy_replace(source, target):
        source, target = Path(source), Path(target)
        replaced.append((source, target, mode_of(source), source.read_text(), target.read_text()))
        real_replace(source, target)

    monkeypatch.setattr(credentials_module.os, "open", spy_open)
    monkeypatch.setattr(credentials_module.os, "replace", spy_replace)
    credentials.add(a_login(token="fyp_new"))
    credentials.save()

    [(temporary, flags, mode)] = opened
    assert temporary.parent == credentials_file.parent and temporary != credentials_file
    assert mode == 0o600 and flags & os.O_CREAT and flags & os.O_EXCL  # never created with a wider mode first
    [(source, target, source_mode, new_text, old_text)] = replaced
    assert (source, target, source_mode) == (temporary, credentials_file, 0o600)
    assert "fyp_new" in new_text and "fyp_old" in old_text  # the old file stays whole until the rename
    assert credentials_file.stat().st_ino != old_inode
    assert sorted(p.name for p in credentials_file.parent.iterdir()) == ["credentials.json"]


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(credentials_file, monkeypatch):
    credentials = load_credentials()
    credentials.add(a_login(token="fyp_old"))
    credentials.save()
    before = credentials_file.read_text()

    def failing_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(credentials_module.os, "replace", failing_replace)
    credentials.add(a_login(token="fyp_new"))
    with pytest.raises(CredentialsError, match=f"cannot write the credentials file {credentials_file}: No space left"):
        credentials.save()
    assert credentials_file.read_text() == before
    assert sorted(p.name for p in credentials_file.parent.iterdir()) == ["credentials.json"]


def test_a_symlinked_file_is_replaced_where_it_points(tmp_path, monkeypatch):
    real = tmp_path / "dotfiles" / "credentials.json"
    real.parent.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(real)
    monkeypatch.setenv("FLOWYARD_CREDENTIALS_FILE", str(link))
    credentials = load_credentials()
    credentials.add(a_login())
    credentials.save()
    assert link.is_symlink() and json.loads(real.read_text())["default"] == ALPHA


# -- what it holds ------------------------------------------------------------------------------------------

def test_logins_round_trip_and_the_last_one_is_the_default(credentials_file):
    credentials = load_credentials()
    assert credentials.logins == {} and credentials.default is None and not credentials_file.exists()
    credentials.add(a_login(ALPHA + "/", signed_in_at=NOW - timedelta(hours=1)))
    credentials.add(a_login(BRAVO, token="fyp_bravo", username="grace"))
    credentials.save()

    again = load_credentials()
    assert again.default == BRAVO and set(again.logins) == {ALPHA, BRAVO}
    assert again.get(None) == again.logins[BRAVO] == a_login(BRAVO, token="fyp_bravo", username="grace")
    assert again.get("HTTPS://FLOWYARD.ALPHA.EXAMPLE/").token == "fyp_alpha-secret"
    assert again.get("https://elsewhere.example") is None
    on_disk = json.loads(credentials_file.read_text())
    assert on_disk["default"] == BRAVO and on_disk["logins"][ALPHA] == {
        "token": "fyp_alpha-secret", "token_id": "id-fyp_alpha-secret", "username": "ada",
        "expires_at": (NOW + timedelta(days=30)).isoformat(), "signed_in_at": (NOW - timedelta(hours=1)).isoformat()}


def test_removing_the_default_makes_the_latest_other_login_the_default(credentials_file):
    credentials = Credentials(credentials_file)
    credentials.add(a_login("https://one.example", signed_in_at=NOW - timedelta(days=2)))
    credentials.add(a_login("https://two.example", signed_in_at=NOW - timedelta(days=1)))
    credentials.add(a_login("https://three.example", signed_in_at=NOW))
    assert credentials.remove("https://one.example/").api == "https://one.example"
    assert credentials.default == "https://three.example"  # not the default: it stays
    credentials.remove("https://three.example")
    assert credentials.default == "https://two.example"
    credentials.remove("https://two.example")
    assert credentials.default is None and credentials.remove("https://two.example") is None


def test_a_default_naming_no_login_is_ignored(credentials_file):
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text(json.dumps({"default": "https://gone.example", "logins": {}}))
    assert load_credentials().default is None


# -- reading: permissions and broken files --------------------------------------------------------------------

def test_a_file_others_may_read_is_read_with_a_warning_naming_the_fix(credentials_file):
    credentials = load_credentials()
    credentials.add(a_login())
    credentials.save()
    os.chmod(credentials_file, 0o644)
    warnings = io.StringIO()
    assert load_credentials(warnings=warnings).get(ALPHA).token == "fyp_alpha-secret"
    assert warnings.getvalue() == (f"flowyard: warning: the credentials file {credentials_file} may be read by others "
                                   f"(mode 0644); run `chmod 600 {credentials_file}`\n")

    os.chmod(credentials_file, 0o600)
    quiet = io.StringIO()
    load_credentials(warnings=quiet)
    assert quiet.getvalue() == ""


def test_the_warning_goes_to_stderr_when_a_command_reads_the_file(credentials_file, no_connection_variables, capsys):
    credentials = load_credentials()
    credentials.add(a_login(expires_in=timedelta(days=-1)))
    credentials.save()
    os.chmod(credentials_file, 0o640)
    assert main(["runs", "list"]) == 1
    err = capsys.readouterr().err
    assert f"may be read by others (mode 0640); run `chmod 600 {credentials_file}`" in err
    assert "your login to https://flowyard.alpha.example expired at" in err


@pytest.mark.parametrize("content, problem", [
    ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    (b"\xff\xfe", "is not valid JSON"),
    ("[]", 'is not a flowyard credentials file: it should be an object with "logins" by control-plane URL'),
    ('{"logins": []}', 'is not a flowyard credentials file: it should be an object with "logins"'),
    ('{"logins": {"https://a.example": {"token_id": "x"}}}',
     "is not a flowyard credentials file: the login of https://a.example has no token"),
    ('{"logins": {"https://a.example": {"token": "fyp_x", "token_id": "x", "expires_at": "soon"}}}',
     "the login of https://a.example has a expires_at that is not a date-time: 'soon'"),
    ('{"default": 3, "logins": {}}', '"default" should be a URL'),
])
def test_a_broken_file_is_named_with_the_fix(credentials_file, content, problem):
    credentials_file.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        credentials_file.write_bytes(content)
    else:
        credentials_file.write_text(content)
    with pytest.raises(CredentialsError) as caught:
        load_credentials()
    message = str(caught.value)
    assert message.startswith(f"the credentials file {credentials_file} ")
    assert problem in message
    assert message.endswith("; fix it, or delete it and run `flowyard login` again")


def test_an_empty_file_holds_no_logins(credentials_file):
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text("")
    assert load_credentials().logins == {}


def test_a_broken_file_is_a_message_and_exit_1_for_commands_never_a_traceback(credentials_file,
                                                                                no_connection_variables, capsys):
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text('{"logins": ')
    os.chmod(credentials_file, 0o600)
    assert main(["runs", "list", "--api", ALPHA]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"flowyard runs list: the credentials file {credentials_file} is not valid JSON")
    assert "Traceback" not in err
    assert main(["logout"]) == 1 and "is not valid JSON" in capsys.readouterr().err


def test_a_folder_in_place_of_the_file_is_named(credentials_file):
    credentials_file.mkdir(parents=True)
    with pytest.raises(CredentialsError, match=f"cannot read the credentials file {credentials_file}"):
        load_credentials()


# -- how commands find their token --------------------------------------------------------------------------

def store(*logins: Login) -> None:
    """Keep these logins in the credentials file, the last one the default."""
    credentials = load_credentials()
    for login in logins:
        credentials.add(login)
    credentials.save()


def test_the_stored_token_of_the_url_is_used_when_no_token_is_given(no_connection_variables, monkeypatch):
    store(a_login(ALPHA), a_login(BRAVO, token="fyp_bravo"))
    client = client_from_args(namespace(api=ALPHA + "/"))
    assert (client.base_url, client.token) == (ALPHA, "fyp_alpha-secret")
    monkeypatch.setenv("FLOWYARD_API_URL", ALPHA)
    assert client_from_args(namespace()).token == "fyp_alpha-secret"


def test_without_a_url_the_default_login_is_used(no_connection_variables):
    store(a_login(ALPHA), a_login(BRAVO, token="fyp_bravo"))
    client = client_from_args(namespace())
    assert (client.base_url, client.token) == (BRAVO, "fyp_bravo")


def test_a_token_given_wins_over_the_stored_one_and_the_file_is_not_read(credentials_file, no_connection_variables,
                                                                          monkeypatch):
    credentials_file.parent.mkdir(parents=True)
    credentials_file.write_text("{broken")  # would fail if it were read
    assert client_from_args(namespace(api=ALPHA, token="fyp_given")).token == "fyp_given"
    monkeypatch.setenv("FLOWYARD_TOKEN", "fyp_from_env")
    assert client_from_args(namespace(api=ALPHA)).token == "fyp_from_env"
    with pytest.raises(MissingSettings, match=r"^missing --api \(or \$FLOWYARD_API_URL\)$"):
        client_from_args(namespace())  # a token without a URL: the default URL is only a stored login's


def test_a_url_without_a_stored_login_names_the_login_command(no_connection_variables, monkeypatch):
    store(a_login(ALPHA))
    with pytest.raises(MissingSettings) as caught:
        client_from_args(namespace(api=BRAVO))
    assert str(caught.value) == ("missing --token (or $FLOWYARD_TOKEN); or sign in with "
                                 f"`flowyard login --api {BRAVO}`")
    monkeypatch.setenv("FLOWYARD_API_URL", BRAVO)
    with pytest.raises(MissingSettings, match=r"; or sign in with `flowyard login`$"):
        client_from_args(namespace())


def test_nothing_at_all_names_both_settings_and_the_login(no_connection_variables):
    with pytest.raises(MissingSettings) as caught:
        client_from_args(namespace())
    assert str(caught.value) == ("missing --api (or $FLOWYARD_API_URL) and --token (or $FLOWYARD_TOKEN); "
                                 "or sign in with `flowyard login`")


def test_an_expired_login_says_when_and_to_sign_in_again(no_connection_variables, capsys):
    expired = a_login(expires_in=timedelta(minutes=-5))
    store(expired)
    with pytest.raises(LoginExpired) as caught:
        client_from_args(namespace())
    assert str(caught.value) == (f"your login to {ALPHA} expired at {format_time(expired.expires_at)}; "
                                 "run `flowyard login`")
    with pytest.raises(LoginExpired, match=f"; run `flowyard login --api {ALPHA}`$"):
        client_from_args(namespace(api=ALPHA))
    assert main(["trigger", "alpha-main/etl", "--env", "test"]) == 1
    assert capsys.readouterr().err == (f"flowyard trigger: your login to {ALPHA} expired at "
                                       f"{format_time(expired.expires_at)}; run `flowyard login`\n")


def test_a_login_without_an_expiry_never_expires():
    login = Login(api=ALPHA, token="fyp_x", token_id="x", username="ada", expires_at=None)
    assert not login.is_expired() and format_time(login.expires_at) == "never"
    assert login.token_prefix == "fyp_x…" and a_login().token_prefix == "fyp_alph…"
