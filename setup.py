"""Packaging: the gettext catalogs are compiled into the package at build, next to the code."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
LOCALES = Path("bot", "locales")
DOMAIN = "messages"


def compile_catalogs(source: Path, out: Path) -> None:
    """Compile each `.po` under `source` into `out`, skipping `.mo` files newer than their `.po`."""
    for po_path in source.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
        language = po_path.parent.parent.name
        mo_path = out / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=language)
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a process reading the catalog never sees half of one.
        partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.part")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        partial.replace(mo_path)


class BuildWithCatalogs(build_py):
    """`build_py` that also writes the `.mo` files, which are built, never committed."""

    def run(self) -> None:
        super().run()
        # An editable install runs the package from the checkout: the catalogs go there.
        out = ROOT / LOCALES if self.editable_mode else Path(self.build_lib) / LOCALES
        compile_catalogs(ROOT / LOCALES, out)


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildWithCatalogs})
