"""How upseg installs: one import name, a wheel that holds only it, lock files that fit.

The stages keep their folders at the top of the repository (``features/``,
``models/``…) and install under ``upseg.`` through setuptools' ``package-dir``
(pyproject.toml). These tests fail when a new folder is left out of that
mapping, when anything but ``upseg`` would reach site-packages, when a user's
own ``models/`` or ``features/`` could shadow ours, and when the lock files no
longer satisfy pyproject.toml.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]


def _source_modules() -> set[str]:
    """Every ``upseg.…`` module that the mapped folders of the repository hold."""
    modules = set()
    for package, folder in PACKAGE_DIR.items():
        for path in (ROOT / folder).rglob("*.py"):
            relative = path.relative_to(ROOT / folder).with_suffix("")
            modules.add(".".join((package, *relative.parts)).removesuffix(".__init__"))
    return modules


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel that ``pip install .`` would build, made by the build backend itself."""
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    code = (
        "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    )
    # A build folder outside the repository, so that the test leaves no trace in it.
    env = {**os.environ, "DIST_EXTRA_CONFIG": str(build / "setup.cfg")}
    (build / "setup.cfg").write_text(f"[build]\nbuild_base = {build / 'b'}\n")
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_the_wheel_holds_only_upseg(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"upseg"}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "upseg = upseg.pipelines.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_wheel_holds_every_module_and_the_default_policy(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    in_wheel = {
        n.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for n in names
        if n.endswith(".py")
    }
    missing = sorted(_source_modules() - in_wheel)
    assert not missing, (
        f"modules missing from the wheel (add their package to [tool.setuptools] packages "
        f"in pyproject.toml): {missing}"
    )
    assert "upseg/serving/default_policy.yaml" in names
    assert "upseg/py.typed" in names


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    packages = {m for m in _source_modules() if (_folder_of(m) / "__init__.py").exists()}
    assert packages - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - packages == set(), "these listed packages have no folder"


def _folder_of(module: str) -> Path:
    """The folder of a dotted ``upseg`` package name, through the package-dir mapping."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        prefix = ".".join(parts[:depth])
        if prefix in PACKAGE_DIR:
            return ROOT / PACKAGE_DIR[prefix] / Path(*parts[depth:])
    raise AssertionError(f"{module} is not under a mapped package")


_USER_PACKAGE = 'raise ImportError("the user\'s own {0} package was imported by upseg")\n'


@pytest.fixture
def users_project(tmp_path: Path) -> Path:
    """A data-science project with its own ``models/`` and ``features/`` packages."""
    for name in ("models", "features", "serving", "pipelines", "experiments"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"MINE = True\n{_USER_PACKAGE.format(name) if name == 'pipelines' else ''}"
        )
    return tmp_path


def test_import_upseg_beside_a_users_own_models_and_features(users_project: Path) -> None:
    code = (
        "import models, features\n"
        "import upseg, upseg.features.contract, upseg.models.registry, upseg.serving.scorer\n"
        "from upseg.pipelines.cli import app\n"
        "assert models.MINE and features.MINE, 'the user lost their own packages'\n"
        "assert upseg.features.contract.CONTRACT\n"
        "print(upseg.__version__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=users_project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", done.stdout.strip())


@pytest.mark.parametrize("command", [["upseg"], [sys.executable, "-m", "upseg"]])
def test_the_cli_runs_beside_a_users_own_packages(users_project: Path, command: list) -> None:
    if command == ["upseg"]:
        command = [str(Path(sys.executable).with_name("upseg"))]
    done = subprocess.run(
        [*command, "validate", "--help"],
        cwd=users_project,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--data" in done.stdout


# --- lock files -------------------------------------------------------------------------

_PIN = re.compile(
    r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$"
)


def _pins(lock: Path) -> dict[str, list[tuple[Version, str | None]]]:
    """Package → [(version, marker)] as pinned in a ``uv pip compile`` lock file."""
    pins: dict[str, list[tuple[Version, str | None]]] = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            name, _, version, marker = match.groups()
            pins.setdefault(canonicalize_name(name), []).append((Version(version), marker))
    return pins


def _requirements(extra: str | None) -> list[Requirement]:
    project = PYPROJECT["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    if extra:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    env = default_environment()
    return [r for r in found if r.marker is None or r.marker.evaluate({**env, "extra": ""})]


@pytest.mark.parametrize(
    ("lock", "extra"), [("requirements.lock", None), ("requirements-dev.lock", "dev")]
)
def test_the_lock_satisfies_pyproject(lock: str, extra: str | None) -> None:
    pins = _pins(ROOT / lock)
    problems = []
    for requirement in _requirements(extra):
        versions = pins.get(canonicalize_name(requirement.name))
        if not versions:
            problems.append(f"{requirement} is not pinned")
        elif not any(requirement.specifier.contains(v, prereleases=True) for v, _ in versions):
            pinned = ", ".join(str(v) for v, _ in versions)
            problems.append(f"{requirement} but the lock pins {pinned}")
    assert not problems, f"{lock} is out of date; run `make lock`: " + "; ".join(problems)
    text = (ROOT / lock).read_text()
    assert "--hash=sha256:" in text and "make lock" in text.splitlines()[1]
    assert "://" not in text, "the lock records download addresses"


def test_the_two_locks_pin_the_same_versions() -> None:
    runtime, dev = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")

    def versions(pins: dict, name: str) -> set[Version]:
        return {version for version, _ in pins.get(name, [])}

    differ = {
        name: (sorted(versions(runtime, name)), sorted(versions(dev, name)))
        for name in runtime
        if versions(runtime, name) != versions(dev, name)
    }
    assert not differ, f"the locks disagree (run `make lock`): {differ}"
