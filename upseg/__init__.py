"""upseg: predictive and uplift segmentation of e-mail marketing audiences.

The stages install as subpackages of this one name, so that nothing with a
generic name (``features``, ``models``…) reaches ``site-packages``:

- :mod:`upseg.features` — data contract, validation, point-in-time features, labels;
- :mod:`upseg.synthetic` — worlds with a known truth and campaign simulation;
- :mod:`upseg.models` — churn, propensity and uplift models, evaluation, the registry gate;
- :mod:`upseg.serving` — the batch scorer and the targeting policy;
- :mod:`upseg.experiments` — A/B analysis and its report;
- :mod:`upseg.pipelines` — the ``upseg`` command line and the jobs that wire the stages.

In the repository each stage keeps its own top-level folder (``features/``,
``models/``…); ``pyproject.toml`` maps them under ``upseg`` (see
``docs/development.md``).
"""

from importlib.metadata import PackageNotFoundError, version

from upseg.errors import UpsegError

try:
    __version__ = version("upseg")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["UpsegError", "__version__"]
