"""Ship-method mapping and address checks. Pure.

The mapping table (IMS or storefront shipping title → the warehouse's service code) is reviewed
configuration; an unmapped title holds the order. There is never a default guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


def _key(title: str) -> str:
    return " ".join(title.split()).casefold()


def map_ship_method(title: str | None, table: Mapping[str, str]) -> str | None:
    if not title:
        return None
    index = {_key(k): v for k, v in table.items()}
    return index.get(_key(title))


@dataclass(frozen=True)
class Address:
    name: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""


_POSTCODES = {
    "GB": re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}", re.I),
    "US": re.compile(r"[0-9]{5}(-[0-9]{4})?"),
    "DE": re.compile(r"[0-9]{5}"),
    "FR": re.compile(r"[0-9]{5}"),
}


def address_problems(address: Address | None) -> list[str]:
    """What is missing or malformed for a courier label; empty when the address will do."""
    if address is None:
        return ["no shipping address"]
    problems = [
        f"{label} is missing"
        for label, value in (
            ("name", address.name),
            ("address line 1", address.line1),
            ("city", address.city),
            ("postcode", address.postcode),
            ("country", address.country),
        )
        if not value.strip()
    ]
    country = address.country.strip().upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        problems.append(f"country {address.country!r} is not an ISO 3166 two-letter code")
    pattern = _POSTCODES.get(country)
    if pattern is not None and address.postcode.strip() and not pattern.fullmatch(address.postcode.strip()):
        problems.append(f"postcode {address.postcode!r} is not a valid {country} postcode")
    if country == "US" and not address.region.strip():
        problems.append("state is missing")
    return problems
