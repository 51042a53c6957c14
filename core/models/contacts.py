"""Contacts area: extra tables (e.g. lookup sync markers)."""

from __future__ import annotations
