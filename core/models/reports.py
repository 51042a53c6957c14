"""Reporting: saved report templates."""

from __future__ import annotations
