"""``madoguchi accounts`` and ``madoguchi terminals``, run in-process and once as a real command."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from hub.accounts.enrollment import redeem_enrollment_code
from hub.accounts.store import add_account, get_account, open_login, verify_password
from hub.sessions.store import Store
from madoguchi import cli
from madoguchi.local_deployment import free_port

PASSWORD = "correct horse battery"


def query(redis_url: str, action: Any) -> Any:
    """``await action(redis)`` on a fresh client, from these synchronous tests."""

    async def run() -> Any:
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            return await action(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


def madoguchi(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Any:
    def feed(text: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))

    return feed


@pytest.fixture
def no_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(prompt: str = "") -> str:
        raise AssertionError(f"prompted: {prompt}")

    monkeypatch.setattr("getpass.getpass", refuse)


# -- accounts add ------------------------------------------------------------------------------


def test_add_reads_the_password_from_stdin_and_never_prints_it(
    redis_url: str, capsys: pytest.CaptureFixture[str], stdin: Any, no_prompt: None
) -> None:
    stdin(PASSWORD + "\n")
    status, out, err = madoguchi(
        capsys,
        *("accounts", "add", "sato", "--role", "branch_staff", "--name", "佐藤 花子"),
        *("--branch", "kita", "--languages", "en, zh", "--hearing-support"),
        *("--password-stdin", "--redis", redis_url),
    )
    assert status == 0, err
    assert out.strip() == "saved sato (branch_staff, branch kita)"
    assert PASSWORD not in out + err
    account = query(redis_url, lambda r: verify_password(r, "sato", PASSWORD))
    assert account is not None
    assert account.display_name == "佐藤 花子" and account.branch_id == "kita"
    assert account.languages == ("en", "zh") and account.hearing_support


def test_add_prompts_twice_and_refuses_two_different_passwords(
    redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter([PASSWORD, PASSWORD + "!", PASSWORD, PASSWORD])
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr("getpass.getpass", getpass)
    argv: tuple[str, ...] = ("accounts", "add", "suzuki", "--role", "specialist", "--name", "鈴木")
    argv += ("--json",)
    argv += ("--skills", "juumin,zei", "--redis", redis_url)
    status, out, _ = madoguchi(capsys, *argv)
    assert status == 1
    assert json.loads(out)["error"] == "passwords_differ"
    assert query(redis_url, lambda r: get_account(r, "suzuki")) is None

    status, out, _ = madoguchi(capsys, *argv)
    assert status == 0
    assert json.loads(out) == {
        "username": "suzuki",
        "role": "specialist",
        "display_name": "鈴木",
        "disabled": False,
        "branch_id": "",
        "skills": ["juumin", "zei"],
        "languages": [],
        "hearing_support": False,
    }
    assert prompts == ["Password for suzuki: ", "Again: "] * 2
    assert PASSWORD not in out


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (("--role", "wizard", "--name", "X"), "unknown_role", "unknown role 'wizard'"),
        (
            ("--role", "specialist", "--name", "X", "--skills", "zei,magic"),
            "unknown_skill",
            "magic",
        ),
        (("--role", "branch_staff", "--name", "X"), "branch_required", "branch"),
        (("--role", "specialist", "--name", "X", "--languages", "english"), "bad_language", "en"),
    ],
)
def test_a_bad_account_is_refused_before_asking_for_a_password(
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    no_prompt: None,
    extra: tuple[str, ...],
    code: str,
    words: str,
) -> None:
    argv = ("accounts", "add", "suzuki", *extra, "--redis", redis_url)
    status, out, err = madoguchi(capsys, *argv)
    assert status == 1 and out == ""
    assert err.startswith("madoguchi: ") and words in err and err.count("\n") == 1
    status, out, _ = madoguchi(capsys, *argv, "--json")
    assert status == 1
    assert json.loads(out)["error"] == code


def test_add_does_not_overwrite_an_account_unless_told(
    redis_url: str, capsys: pytest.CaptureFixture[str], stdin: Any
) -> None:
    query(redis_url, lambda r: add_account(r, "suzuki", PASSWORD, "specialist", "鈴木"))
    argv: tuple[str, ...] = ("accounts", "add", "suzuki", "--role", "admin", "--name", "X")
    argv += ("--password-stdin",)
    argv += ("--redis", redis_url)
    stdin("another password\n")
    status, _, err = madoguchi(capsys, *argv)
    assert status == 1 and "exists already" in err
    assert query(redis_url, lambda r: verify_password(r, "suzuki", PASSWORD)) is not None

    stdin("another password\n")
    status, _, err = madoguchi(capsys, *argv, "--replace")
    assert status == 0, err
    account = query(redis_url, lambda r: verify_password(r, "suzuki", "another password"))
    assert account is not None and account.role == "admin"


def test_a_weak_password_is_refused(
    redis_url: str, capsys: pytest.CaptureFixture[str], stdin: Any
) -> None:
    stdin("short\n")
    status, out, _ = madoguchi(
        capsys,
        *("accounts", "add", "suzuki", "--role", "specialist", "--name", "鈴木"),
        *("--password-stdin", "--json", "--redis", redis_url),
    )
    assert status == 1
    assert json.loads(out)["error"] == "weak_password"
    assert "short" not in out
    assert query(redis_url, lambda r: get_account(r, "suzuki")) is None


# -- accounts list, disable, enable ----------------------------------------------------------------


def test_list_shows_every_account_as_text_and_json(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed(r: aioredis.Redis) -> None:
        await add_account(r, "suzuki", PASSWORD, "specialist", "鈴木", skills=["zei", "kaigo"])
        await add_account(r, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")

    query(redis_url, seed)
    status, out, _ = madoguchi(capsys, "accounts", "list", "--redis", redis_url)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "USERNAME", "ROLE", "BRANCH", "SKILLS", "LANGUAGES", "HEARING", "STATUS", "NAME"
    ]  # fmt: skip
    assert lines[1].split() == ["sato", "branch_staff", "kita", "-", "-", "-", "enabled", "佐藤"]
    assert lines[2].split()[:4] == ["suzuki", "specialist", "-", "zei,kaigo"]

    status, out, _ = madoguchi(capsys, "accounts", "list", "--json", "--redis", redis_url)
    assert status == 0
    listed = json.loads(out)
    assert [a["username"] for a in listed] == ["sato", "suzuki"]
    assert listed[1]["skills"] == ["zei", "kaigo"] and "password_hash" not in listed[1]


def test_list_of_no_accounts(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert madoguchi(capsys, "accounts", "list", "--redis", redis_url)[:2] == (0, "no accounts\n")
    assert madoguchi(capsys, "accounts", "list", "--json", "--redis", redis_url)[1] == "[]\n"


def test_disable_ends_logins_and_enable_lets_the_user_back_in(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed(r: aioredis.Redis) -> str:
        await add_account(r, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
        return await open_login(r, "sato", 3600)

    token = query(redis_url, seed)
    status, out, _ = madoguchi(capsys, "accounts", "disable", "sato", "--redis", redis_url)
    assert status == 0 and out.strip() == "disabled sato; ended 1 open login(s)"
    assert token not in out
    assert query(redis_url, lambda r: verify_password(r, "sato", PASSWORD)) is None

    status, out, _ = madoguchi(capsys, "accounts", "enable", "sato", "--json", "--redis", redis_url)
    assert status == 0 and json.loads(out) == {"username": "sato", "disabled": False}
    assert query(redis_url, lambda r: verify_password(r, "sato", PASSWORD)) is not None


def test_disabling_nobody_is_an_error(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = madoguchi(
        capsys, "accounts", "disable", "nobody", "--json", "--redis", redis_url
    )
    assert status == 1
    assert json.loads(out) == {"error": "no_such_account", "message": "no account 'nobody'"}


# -- terminals enroll --------------------------------------------------------------------------


def test_enroll_prints_a_one_time_code_that_enrolls_the_terminal(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = madoguchi(
        capsys,
        *("terminals", "enroll", "kita-01", "--branch", "kita", "--name", "北支所 1番窓口"),
        *("--json", "--redis", redis_url),
    )
    assert status == 0
    printed = json.loads(out)
    assert printed["terminal_id"] == "kita-01" and printed["branch_id"] == "kita"
    assert printed["ttl_s"] == 600 and "token" not in printed
    expires = datetime.fromisoformat(printed["expires_at"])
    assert abs(expires - datetime.now(UTC) - timedelta(seconds=600)) < timedelta(seconds=30)

    terminal_id, token = query(redis_url, lambda r: redeem_enrollment_code(r, printed["code"]))
    assert terminal_id == "kita-01"
    assert query(redis_url, lambda r: Store(r).terminal_for_token(token)) == "kita-01"


def test_enroll_as_text_shows_the_code_and_its_lifetime(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = madoguchi(
        capsys,
        *("terminals", "enroll", "kita-02", "--branch", "kita", "--name", "北支所 2番窓口"),
        *("--ttl", "120", "--redis", redis_url),
    )
    assert status == 0
    code = out.split("\n\n")[1].strip()
    assert "北支所 2番窓口" in out and "(2 min)" in out
    assert query(redis_url, lambda r: redeem_enrollment_code(r, code))[0] == "kita-02"


def test_enroll_refuses_a_bad_terminal_id(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = madoguchi(
        capsys, "terminals", "enroll", "Kita 01", "--branch", "kita", "--name", "x",
        "--redis", redis_url,
    )  # fmt: skip
    assert status == 1 and out == ""
    assert "terminal id 'Kita 01'" in err


# -- configuration and the store ---------------------------------------------------------------


def test_the_redis_url_comes_from_the_flag_or_the_environment(
    redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MADOGUCHI_REDIS_URL", raising=False)
    status, _, err = madoguchi(capsys, "accounts", "list")
    assert status == 2 and "MADOGUCHI_REDIS_URL" in err
    status, _, err = madoguchi(capsys, "accounts", "list", "--redis", "http://not-redis")
    assert status == 2 and "malformed Redis URL" in err
    monkeypatch.setenv("MADOGUCHI_REDIS_URL", redis_url)
    assert madoguchi(capsys, "accounts", "list")[:2] == (0, "no accounts\n")


def test_an_unreachable_redis_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    status, out, _ = madoguchi(capsys, "accounts", "list", "--json", "--redis", url)
    assert status == 1
    reply = json.loads(out)
    assert reply["error"] == "store_unavailable" and "Redis is unavailable" in reply["message"]


def test_the_older_subcommands_still_parse() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["hub", "--port", "8900"]).func is cli.run_hub
    assert parser.parse_args(["demo"]).func is cli.run_demo
    bench = parser.parse_args(["bench", "call-setup", "--json"])
    assert bench.func is cli.run_bench and bench.json and bench.name == "call-setup"
    assert parser.parse_args(["branch", "--hub", "http://h"]).func is cli.run_branch


def test_the_installed_command_runs_as_a_process(redis_url: str) -> None:
    env = {**os.environ, "MADOGUCHI_REDIS_URL": redis_url}
    added = subprocess.run(
        [sys.executable, "-m", "madoguchi", "accounts", "add", "yamada", "--role", "backoffice",
         "--name", "山田", "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "madoguchi", "accounts", "list", "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [a["username"] for a in json.loads(listed.stdout)] == ["yamada"]
