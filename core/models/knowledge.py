"""Knowledge documents, versions and check-out locks."""

from __future__ import annotations
