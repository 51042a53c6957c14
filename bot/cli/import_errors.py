"""The words of the errors of `sfa import ...` rows (core.imports, core.catalog): the
command line's English joins them to the registry's error texts (bot.cli.english)."""

from __future__ import annotations

from bot.i18n import N_

IMPORT_ERRORS = {
    # contacts and companies (core.imports)
    "import.missing": N_("the column {column} is empty"),
    "import.too_long": N_("{column} is longer than {limit} characters"),
    "import.bad_email": N_("\"{value}\" is not an e-mail address"),
    "import.bad_phone": N_("{column} \"{value}\" is not a phone number"),
    "import.bad_yes_no": N_("{column} must be yes or no, not \"{value}\""),
    "import.bad_number": N_("{column} must be a whole number, not \"{value}\""),
    "import.unknown_territory": N_("no territory named \"{value}\""),
    "import.unknown_user": N_("no user with the login \"{value}\""),
    "import.unknown_company": N_(
        "no company \"{value}\" (import the companies first, or fix the name)"),
    "import.ambiguous_company": N_(
        "several companies are named \"{value}\": give company_external_id instead"),
    "import.extra_columns": N_("the row has more values than the header has columns"),
    "import.conflict": N_("the row clashes with an existing record (duplicate external id?)"),
    "import.unclosed_quote": N_(
        "a quote opened on this line is never closed: the row is skipped and reading goes "
        "on with the next line (close the quote, or remove it)"),
    "import.cell_too_long": N_(
        "{column} is {length} characters long; the limit is {limit} (shorten it)"),
    "import.bad_encoding": N_(
        "{column} has bytes that are not text (save the file as UTF-8)"),
    "import.control_chars": N_(
        "{column} has control characters (such as NUL or terminal escapes): remove them"),
    "import.bad_amount": N_(
        "{column} must be an amount of zero or more, not \"{value}\""),
    "import.unknown_contact": N_("no contact \"{value}\" at {company}"),
    # products and price lists (core.catalog)
    "catalog.missing": N_("{column} is missing"),
    "catalog.bad_number": N_("{column} is not a number of zero or more: {value}"),
    "catalog.bad_date": N_("{column} is not a date (YYYY-MM-DD): {value}"),
    "catalog.sku_name_required": N_("sku and name are required"),
    "catalog.bad_tax": N_("tax_rate is a percentage from 0 to 100, not {value}"),
    "catalog.list_sku_required": N_("price_list and sku are required"),
    "catalog.bad_currency": N_("currency must be a 3-letter code, not {value}"),
    "catalog.dates_reversed": N_("valid_to is before valid_from"),
    "catalog.floor_above_price": N_("floor_price is above unit_price"),
    "catalog.unknown_sku": N_("unknown sku {sku} (import the products first)"),
    "catalog.currency_clash": N_("price list {price_list} is in {currency}, not {value}"),
}
