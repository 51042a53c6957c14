"""Catalogue, price lists, discounts, quotes and orders."""

from __future__ import annotations
