"""Where the bundled knowledge base and probe scripts are.

Installed, they travel in the wheel as ``advisor._rules`` and ``advisor._probes``; in a source
checkout they are the top-level ``rules/`` and ``probes/`` folders beside the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _locate(package: str, folder: str, marker: str) -> Path:
    candidate = _SOURCE_ROOT / folder
    if (candidate / marker).is_file():
        return candidate
    return Path(str(resources.files(package)))


def rules_dir() -> Path:
    return _locate("advisor._rules", "rules", "knowledge.yaml")


def probes_dir() -> Path:
    return _locate("advisor._probes", "probes", "harness.py")
