"""How values are written into a document from a template, in the document's language
(core.proposals.DocumentWords): dates as in a letter, amounts with the language's
separators, and a price table whose VAT wording agrees with its totals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.i18n import N_, Translator

SELLER_DETAILS = {
    "name": N_("company name"), "legal_name": N_("legal name"), "address": N_("address"),
    "phone": N_("phone"), "email": N_("e-mail"), "website": N_("website"),
    "tax_number": N_("tax number"), "bank": N_("bank details"),
}


class TemplateWords:
    """DocumentWords for one language (a Translator of that language)."""

    def __init__(self, t: Translator) -> None:
        self.t = t
        self.language = t.locale

    def date(self, day: date) -> str:
        return format_date(day, "d MMMM y", locale=self.t.babel_locale)

    def money(self, amount: Any, currency: str = "") -> str:
        try:
            value = Decimal(str(amount))
        except (InvalidOperation, ValueError):
            return str(amount)
        pattern = "#,##0" if value == value.to_integral() else "#,##0.00"
        number = format_decimal(value, format=pattern, locale=self.t.babel_locale)
        if currency == "IDR" and self.language == "id":
            return f"Rp {number}"
        return f"{currency} {number}".strip()

    def price_table(self, quote: Mapping[str, Any]) -> str:
        """Each line at its net price, then the net total, the VAT and the total with VAT:
        the words say which amounts include VAT, and the amounts add up."""
        t, currency = self.t, str(quote.get("currency") or "")
        rows = [f"- {line['quantity']} x {line['name']}: {self.money(line['net'], currency)}"
                for line in quote.get("lines") or ()]
        rows.append(t("Total before VAT: {amount}",
                      amount=self.money(quote["net"], currency)))
        rows.append(t("VAT: {amount}", amount=self.money(quote["tax"], currency)))
        rows.append(t("Total including VAT: {amount}",
                      amount=self.money(quote["total"], currency)))
        return "\n".join(rows)

    def not_set(self, detail: str) -> str:
        label = SELLER_DETAILS.get(detail, detail.replace("_", " "))
        return self.t("[{detail} not set]", detail=self.t(label))
