"""Guided sales process and territories: stage requirements, approvals, lead announcements."""

from __future__ import annotations
