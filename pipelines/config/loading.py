"""Reading ``conf/upseg.yaml``: strict YAML, then the schema, every problem at once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from upseg.errors import UpsegError
from upseg.pipelines.config._messages import dotted_key, problem_of, secret_keys, shown
from upseg.pipelines.config.schema import _CREDENTIALS_HINT, UpsegConfig

__all__ = ["ConfigError", "load_config"]


class ConfigError(UpsegError, ValueError):
    """The configuration file is missing, is not YAML, or breaks the schema.

    Attributes
    ----------
    path : Path
        The file, as given.
    problems : tuple of str
        One line per problem, each starting with the dotted key it concerns.
    """

    exit_code = 2  # a bad configuration is a usage error, like a bad option

    def __init__(self, path: Path, problems: list[str]):
        self.path = Path(path)
        self.problems = tuple(problems)
        if len(problems) == 1:
            message = f"{path}: {problems[0]}"
        else:
            lines = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
            message = f"{path}: {len(problems)} problems:\n{lines}"
        super().__init__(message)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key given twice in one mapping, where YAML keeps the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    """The YAML document in ``path``, or a :class:`ConfigError` saying why it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["no such configuration file"]) from None
    except IsADirectoryError:
        raise ConfigError(path, ["is a folder, not a configuration file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot be read ({exc})"]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [f"not valid YAML{where}: {problem}"]) from None


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> UpsegConfig:
    """Read and validate the configuration file at ``path``.

    Parameters
    ----------
    path : Path
        The YAML file, e.g. ``conf/upseg.yaml``. Relative paths inside it are
        resolved against its folder.
    environ : mapping of str to str, optional
        Where :meth:`UpsegConfig.tracking_uri` looks up ``MLFLOW_TRACKING_URI``;
        ``os.environ`` by default.

    Returns
    -------
    UpsegConfig
        Frozen, with every default filled in and every path absolute.

    Raises
    ------
    ConfigError
        Listing every problem at once: a missing file, invalid YAML (with its
        line), a wrong ``version``, unknown keys (with the allowed ones), wrong
        types or values (with what is allowed and what was given), and
        credentials written into the file.
    """
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, Mapping):
        got = "an empty file" if raw is None else shown(raw)
        raise ConfigError(path, [f"the top level must be a mapping of keys; got {got}"])
    version = raw.get("version")
    if "version" not in raw:
        raise ConfigError(path, ["version: required; start the file with `version: 1`"])
    if type(version) is not int or version != 1:
        raise ConfigError(
            path, [f"version: must be 1, the only version this upseg reads; got {shown(version)}"]
        )

    secrets = secret_keys(raw)
    problems = {loc: _CREDENTIALS_HINT for loc in secrets}
    try:
        config = UpsegConfig.model_validate(raw, context={"base": path.parent.resolve()})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc, message = problem_of(error)
            if not any(loc[: len(s)] == s for s in secrets):
                problems.setdefault(loc, message)
    if problems:
        raise ConfigError(
            path, [f"{dotted_key(loc)}: {message}" for loc, message in problems.items()]
        )
    config._environ = environ
    config._source = path
    return config
