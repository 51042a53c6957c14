"""Scheduler: outbox, delivery schedules, complaints."""

from __future__ import annotations
