"""Core commands (ask, recommend, rules); registered on the app in advisor.cli.app."""

from __future__ import annotations
