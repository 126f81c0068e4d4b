"""deploy/: the systemd units pass `systemd-analyze verify` and keep the promises README makes.

The units are checked as installed, with ExecStart= pointing at this venv's `smsman-bot` console
script (the project is pip-installed here), in a folder of their own. No running systemd is
needed: `systemd-analyze verify` and `security --offline=yes` only read the files. Debian's
`systemd` package brings the tool; .ci/run installs it where it is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import EXIT_CONFIG

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SERVICE = "smsman-bot.service"
BACKUP = "smsman-bot-backup.service"
TIMER = "smsman-bot-backup.timer"
UNITS = (SERVICE, BACKUP, TIMER)
INSTALLED = "/opt/smsman-bot/venv/bin/smsman-bot"
USER = "smsman-bot"
STATE_DIR = "/var/lib/smsman-bot"
# `systemd-analyze security` scores 0 (locked down) to 10 (exposed); the units score 1.2.
MOST_EXPOSURE = "2.0"
# Settings that would make another path writable under ProtectSystem=strict.
WRITABLE_ELSEWHERE = (
    "ReadWriteDirectories",
    "BindPaths",
    "RuntimeDirectory",
    "CacheDirectory",
    "LogsDirectory",
    "TemporaryFileSystem",
    "DynamicUser",
)
UNIT_NAME = re.compile(
    r"[\w@.:\\-]+\.(?:service|socket|target|timer|mount|automount|path|slice|scope|device|swap)\b"
)

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """Section -> key -> every value in order; an empty assignment resets the list, as systemd."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"line {number}: continuation lines are not used here"
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"line {number} is outside any section"
        key, sep, value = line.partition("=")
        assert sep, f"line {number} is not key=value: {raw!r}"
        values = section.setdefault(key.strip(), [])
        if value.strip():
            values.append(value.strip())
        else:
            values.clear()
    return unit


def units_in(folder: Path) -> dict[str, Unit]:
    return {name: parse_unit((folder / name).read_text()) for name in UNITS}


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail(
            "systemd-analyze is missing: install Debian's systemd package "
            "(apt-get install systemd), as .ci/run does"
        )
    return tool


def console_script() -> Path:
    script = Path(sys.executable).parent / "smsman-bot"
    assert os.access(script, os.X_OK), f"{script} is missing: pip install the project first"
    return script


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """The units in a folder of their own, ExecStart= naming this venv's console script."""
    script = str(console_script())
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        assert name == TIMER or f"ExecStart={INSTALLED} " in text, name
        (tmp_path / name).write_text(text.replace(INSTALLED, script))
    return tmp_path


def unit_files(folder: Path) -> list[Path]:
    return [folder / name for name in UNITS if (folder / name).is_file()]


def run_verify(folder: Path, log_level: str) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}
    env |= {"SYSTEMD_LOG_LEVEL": log_level, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""}
    result = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", *(str(path) for path in unit_files(folder))],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, (result.stdout + result.stderr).splitlines()


def verify_problems(folder: Path) -> list[str]:
    """What `systemd-analyze verify` finds wrong with the units in folder (empty: nothing).

    It exits 0 on some errors (an unknown setting or a bad value is only a warning), so every
    line it prints counts, unless the line names only units that are not ours (the host's own).
    Some bad values (ProtectSystem=strictly) are only logged at debug level: there, every
    complaint about a line of our files counts too, bar system calls that systemd's own groups
    (@system-service) list and this host's libseccomp does not know.
    """
    code, lines = run_verify(folder, "info")
    problems = []
    for line in lines:
        named = set(UNIT_NAME.findall(line))
        if not line.strip() or (named and not named & set(UNITS) and str(folder) not in line):
            continue
        problems.append(line)
    if code != 0:
        problems.append(f"systemd-analyze verify exited {code}")

    texts = {path.name: path.read_text() for path in unit_files(folder)}
    for line in run_verify(folder, "debug")[1]:
        match = re.match(rf"{re.escape(str(folder))}/([^:]+):\d+: (.*)", line)
        if not match or line in problems:
            continue
        unknown = re.fullmatch(r"Failed to parse system call, ignoring: (\S+)", match[2])
        if unknown and unknown[1] not in texts.get(match[1], ""):
            continue
        problems.append(line)

    # verify is silent about a timer whose service is missing: check the name ourselves.
    triggered = parse_unit((folder / TIMER).read_text())["Timer"].get("Unit", [BACKUP])[-1]
    if not (folder / triggered).is_file():
        problems.append(f"{TIMER} starts {triggered}, which is not beside it")
    return problems


def test_the_units_pass_systemd_analyze_verify(installed: Path) -> None:
    assert verify_problems(installed) == []


@pytest.mark.parametrize(
    ("unit", "old", "new"),
    [
        pytest.param(SERVICE, "Restart=on-failure", "Restat=on-failure", id="misspelled-setting"),
        pytest.param(SERVICE, "Type=exec", "Type=simpel", id="bad-value"),
        pytest.param(BACKUP, "ExecStart=", "ExecStart=/nonexistent", id="missing-binary"),
        pytest.param(BACKUP, "[Service]", "[Servce]", id="misspelled-section"),
        pytest.param(
            SERVICE,
            "ProtectSystem=strict\n",
            "ProtectSystem=strictly\n",
            id="value-logged-at-debug-only",
        ),
        pytest.param(TIMER, "03:30:00", "25:30:00", id="bad-calendar"),
    ],
)
def test_verify_catches_a_broken_unit(installed: Path, unit: str, old: str, new: str) -> None:
    path = installed / unit
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    assert verify_problems(installed) != []


def test_verify_catches_a_timer_without_its_service(installed: Path) -> None:
    (installed / BACKUP).rename(installed / "smsman-bot-backups.service")
    assert verify_problems(installed) != []


@pytest.mark.parametrize("name", [SERVICE, BACKUP])
def test_the_services_are_hardened(installed: Path, name: str) -> None:
    """systemd's own score of the sandbox: a dropped setting shows here as well as below."""
    result = subprocess.run(
        [
            systemd_analyze(),
            "security",
            "--offline=yes",
            "--no-pager",
            f"--threshold={round(float(MOST_EXPOSURE) * 10)}",
            str(installed / name),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    overall = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert overall, result.stdout + result.stderr
    assert result.returncode == 0, f"{name}: exposure {overall[1]} > {MOST_EXPOSURE}"


def one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{key}= should be set once, is {values}"
    return values[0]


@pytest.mark.parametrize("name", [SERVICE, BACKUP])
def test_a_service_runs_as_its_own_user_with_one_writable_folder(name: str) -> None:
    service = units_in(DEPLOY)[name]["Service"]
    assert one(service, "User") == USER
    assert one(service, "Group") == USER
    # Without a leading "-": a missing settings file stops the start instead of running unset.
    assert one(service, "EnvironmentFile") == "/etc/smsman-bot/env"
    assert one(service, "NoNewPrivileges") == "yes"
    assert one(service, "ProtectSystem") == "strict"
    assert one(service, "ProtectHome") == "yes"
    assert one(service, "PrivateTmp") == "yes"
    assert service.get("CapabilityBoundingSet") == [], "no capabilities at all"
    assert service.get("AmbientCapabilities") == []
    assert one(service, "UMask") == "0077"
    assert one(service, "StateDirectoryMode") == "0700"
    assert one(service, "WorkingDirectory") == STATE_DIR
    assert one(service, "Environment") == f"DATABASE_PATH={STATE_DIR}/bot.sqlite3"

    # The state folder (and folders inside it) is the only writable path.
    for state in " ".join(service["StateDirectory"]).split():
        assert state == "smsman-bot" or state.startswith("smsman-bot/"), state
    for path in " ".join(service.get("ReadWritePaths", [])).split():
        assert path.lstrip("-+") == STATE_DIR or path.lstrip("-+").startswith(f"{STATE_DIR}/")
    assert not set(WRITABLE_ELSEWHERE) & service.keys()

    assert one(service, "ExecStart").startswith(f"{INSTALLED} ")


def test_the_bot_restarts_on_failure_and_has_time_to_drain() -> None:
    units = units_in(DEPLOY)
    service = units[SERVICE]["Service"]
    assert one(service, "ExecStart") == f"{INSTALLED} run"
    assert one(service, "Type") in {"simple", "exec"}
    assert one(service, "Restart") == "on-failure"
    assert one(service, "RestartSec") == "5"
    # Up to 20 s for taps under way (5 s more for webhook connections), 10 s for polls and 10 s
    # for what they left to send: 45 s at most, then a margin.
    assert int(one(service, "TimeoutStopSec")) >= 60
    assert one(service, "KillSignal") == "SIGTERM"
    unit = units[SERVICE]["Unit"]
    assert "network-online.target" in one(unit, "After").split()
    assert "network-online.target" in one(unit, "Wants").split()
    # Restarted however often it fails (an outage at boot), but not for a configuration error.
    assert one(unit, "StartLimitIntervalSec") == "0"
    assert one(service, "RestartPreventExitStatus") == str(EXIT_CONFIG)
    assert one(units[SERVICE]["Install"], "WantedBy") == "multi-user.target"


def test_the_backup_runs_nightly_into_the_state_folder() -> None:
    units = units_in(DEPLOY)
    backup = units[BACKUP]["Service"]
    assert one(backup, "Type") == "oneshot"
    assert one(backup, "ExecStart") == f"{INSTALLED} backup {STATE_DIR}/backups --keep 14"
    # `backup` writes into PATH only when it is an existing folder: systemd creates it.
    assert "smsman-bot/backups" in " ".join(backup["StateDirectory"]).split()
    assert "Install" not in units[BACKUP], "the timer starts it"
    timer = units[TIMER]["Timer"]
    assert "Unit" not in timer, "the timer starts the service of its own name"
    assert one(timer, "OnCalendar") == "*-*-* 03:30:00"
    assert one(timer, "Persistent") == "true"
    assert one(timer, "RandomizedDelaySec") == "15m"
    assert one(units[TIMER]["Install"], "WantedBy") == "timers.target"


def test_both_services_share_one_sandbox() -> None:
    """The backup runs with the bot's hardening: the same settings, bar what it does."""
    units = units_in(DEPLOY)
    own = {"Type", "ExecStart", "StateDirectory", "Restart", "RestartSec", "KillSignal"}
    own |= {"RestartPreventExitStatus"}
    own |= {"TimeoutStopSec", "TimeoutStartSec", "SyslogIdentifier", "Nice"}
    own |= {"IOSchedulingClass", "IOSchedulingPriority"}

    def sandbox(name: str) -> dict[str, list[str]]:
        return {k: v for k, v in units[name]["Service"].items() if k not in own}

    assert sandbox(SERVICE) == sandbox(BACKUP)
