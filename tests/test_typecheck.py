"""mypy on the package as it installs (``upseg.features``, ``upseg.models``…).

The stages live in top-level folders that setuptools maps under ``upseg``, a
shape mypy cannot follow through the editable install's import hook. So the
test builds a view of that shape out of symlinks (``.typecheck/upseg/features
-> ../../features``…) and checks it with the configuration in pyproject.toml.
``make typecheck`` runs this test alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIEW = ROOT / ".typecheck"


def package_view() -> Path:
    """``.typecheck/upseg/…``: the package laid out as the wheel is, out of symlinks."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shutil.rmtree(VIEW, ignore_errors=True)
    for package, folder in sorted(mapping["package-dir"].items()):
        target = VIEW / Path(*package.split("."))
        if package == "upseg":  # a real folder: the stages' symlinks go inside it
            target.mkdir(parents=True)
            for path in (ROOT / folder).iterdir():
                (target / path.name).symlink_to(path)
        else:
            target.symlink_to(ROOT / folder, target_is_directory=True)
    return VIEW


def test_the_package_type_checks() -> None:
    view = package_view()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "-p",
            "upseg",
        ],
        cwd=view,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"mypy (paths are under {view}):\n{done.stdout}{done.stderr}"
