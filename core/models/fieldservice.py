"""Field service: technicians, service jobs, offers."""

from __future__ import annotations
