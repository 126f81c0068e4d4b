"""The built wheel is the product alone, with its data: every language, the curated list."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bot.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
# What a clean checkout holds that the build reads, emulators and tests included to prove they
# stay out; compiled catalogs are left behind to prove the build makes its own.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "bot", "handlers", "keyboards", "emulators")
IGNORED = shutil.ignore_patterns("__pycache__", "*.mo", "*.egg-info")

# Run from an empty directory with only the installed wheel ahead of site-packages.
SPEAKS = """
import sys, bot
from bot.catalog.popular import load_curated
from bot.i18n import LANGUAGES, create_i18n
assert bot.__file__.startswith(sys.argv[1]), bot.__file__
assert load_curated(), "the curated list ships too"
i18n = create_i18n("en")
print(sorted(i18n.available_locales))
for language in sorted(LANGUAGES):
    print(language, i18n.gettext("🛒 Buy a number", locale=language))
"""


def pip(command: str, *args: str) -> None:
    """pip offline, with what the venv has: the build uses its setuptools and Babel."""
    subprocess.run(
        [sys.executable, "-m", "pip", command, "--quiet", "--no-deps", "--no-index", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("checkout")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=IGNORED)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    pip("wheel", "--no-build-isolation", "--wheel-dir", str(out), str(source))
    (built,) = out.glob("smsman_bot-*.whl")
    return built


def test_the_wheel_ships_the_product_and_its_catalogs_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names if not name.endswith(".dist-info/")}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"bot", "handlers", "keyboards"}
    for language in LANGUAGES:
        assert f"bot/locales/{language}/LC_MESSAGES/messages.mo" in names


def test_an_installed_bot_speaks_every_language(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip("install", "--target", str(target), str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", SPEAKS, str(target)],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == str(sorted(LANGUAGES))
    said = dict(line.split(" ", 1) for line in lines[1:])
    assert said["en"] == "🛒 Buy a number"
    assert said["ru"] != said["en"]
    assert said["zh"] != said["en"]
