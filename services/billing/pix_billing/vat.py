"""German VAT for our invoices (UStG), from the buyer's country and VAT id.

Prices are gross for a German customer (the price list includes 19 %). Decided here:
- buyer in Germany (business or not), or in another EU member state without a VAT id: German
  VAT, 19 % included in the price;
- business in another EU member state with a VAT id: reverse charge (§ 13b UStG, Art. 196
  MwStSystRL): the net price, no VAT, the note on the invoice;
- buyer outside the EU with a VAT/tax id: not taxable in Germany (§ 3a (2) UStG), the net price.

An EU VAT id is checked for its form (country prefix and pattern) and then against VIES, the EU
Commission's register (its REST API: POST {base}/check-vat-number with countryCode and
vatNumber, answering `valid`, `name`, `address`, `requestIdentifier`). Decided here:
- VIES says valid: the id is *verified*; its name, address and consultation number are kept
  (the evidence a tax office asks for).
- VIES says invalid: the id is refused (the form says so), nothing is saved.
- VIES cannot answer (down, a member state's register away, a timeout): the id is accepted
  *provisionally* as *unverified*, and a job asks VIES again later with backoff. Reverse charge
  needs a verified id: until then the customer pays German VAT (never too little tax on an
  invoice); once verified, invoices from then on are reverse charge. A recheck that finds it
  invalid marks it so and German VAT stays.
A non-EU tax id is not in VIES and stays as it is (not taxable in Germany).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import httpx
from pix_runtime.logging import get_logger

log = get_logger(__name__)

EU_COUNTRIES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
    }
)
# VAT ids by their prefix (Greece uses EL); the number's form per member state.
_VAT_ID_FORMS = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{12}",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
}
REVERSE_CHARGE_NOTE = (
    "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge, § 13b UStG, "
    "Art. 196 MwStSystRL) / VAT reverse charge: the recipient is liable for VAT."
)
NOT_TAXABLE_NOTE = (
    "Nicht im Inland steuerbare Leistung (§ 3a Abs. 2 UStG) / Not subject to German VAT."
)

Treatment = Literal["de_vat", "reverse_charge", "not_taxable"]


def normalise_vat_id(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value).upper()


def vat_id_country(vat_id: str) -> str | None:
    """The member state of a well-formed EU VAT id (GR for EL), else None."""
    prefix, number = vat_id[:2], vat_id[2:]
    form = _VAT_ID_FORMS.get(prefix)
    if form is None or not re.fullmatch(form, number):
        return None
    return "GR" if prefix == "EL" else prefix


@dataclass(frozen=True)
class Taxed:
    treatment: Treatment
    percent: Decimal
    net_cents: int
    vat_cents: int
    gross_cents: int
    note: str | None
    # What each line costs on the invoice: gross with German VAT included, else net.
    line_cents: list[int]


def net_of(gross_cents: int, percent: Decimal) -> int:
    net = Decimal(gross_cents) / (1 + percent / 100)
    return int(net.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def treatment_for(country: str, vat_id: str | None) -> Treatment:
    if country == "DE":
        return "de_vat"
    if country in EU_COUNTRIES:
        return "reverse_charge" if vat_id else "de_vat"
    return "not_taxable" if vat_id else "de_vat"


def tax(line_gross_cents: list[int], *, country: str, vat_id: str | None, percent: float) -> Taxed:
    """An order's amounts from its list prices (gross at the German rate), line by line as
    Stripe computes an inclusive rate, so our figures and Stripe's agree to the cent."""
    rate = Decimal(str(percent))
    treatment = treatment_for(country, vat_id)
    nets = [net_of(gross, rate) for gross in line_gross_cents]
    net = sum(nets)
    if treatment == "de_vat":
        gross = sum(line_gross_cents)
        return Taxed(treatment, rate, net, gross - net, gross, None, line_gross_cents)
    note = REVERSE_CHARGE_NOTE if treatment == "reverse_charge" else NOT_TAXABLE_NOTE
    return Taxed(treatment, Decimal(0), net, 0, net, note, nets)


# --- VIES -------------------------------------------------------------------------------------

VIES_API = "https://ec.europa.eu/taxation_customs/vies/rest-api"
# verified: VIES confirmed it; unverified: VIES could not answer yet (a job asks again);
# invalid: a recheck found VIES does not know it; foreign: a non-EU id, VIES has none.
VatStatus = Literal["verified", "unverified", "invalid", "foreign"]
# What VIES answers when it, or a member state's register, cannot answer now.
VIES_BUSY = frozenset(
    {
        "MS_UNAVAILABLE",
        "SERVICE_UNAVAILABLE",
        "TIMEOUT",
        "SERVER_BUSY",
        "GLOBAL_MAX_CONCURRENT_REQ",
        "MS_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ_TIME",
        "MS_MAX_CONCURRENT_REQ_TIME",
    }
)


class ViesUnavailable(Exception):
    """VIES gave no answer on the id (down, busy, a member state away, a timeout)."""


@dataclass(frozen=True)
class ViesAnswer:
    valid: bool
    name: str | None = None
    address: str | None = None
    # VIES's consultation number, when it gives one.
    consultation: str | None = None


def _text(value: Any) -> str | None:
    # VIES writes "---" where a member state does not disclose the name or address.
    text = str(value).strip() if value is not None else ""
    return text if text and text != "---" else None


def _error_codes(body: Any) -> set[str]:
    if not isinstance(body, dict):
        return set()
    codes = {str(e.get("error")) for e in body.get("errorWrappers") or [] if isinstance(e, dict)}
    if body.get("userError") and body.get("userError") not in ("VALID", "INVALID"):
        codes.add(str(body["userError"]))
    return codes


class Vies:
    """VIES's REST API over httpx (base URL and timeout from the settings)."""

    def __init__(
        self,
        base_url: str = VIES_API,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self, vat_id: str) -> ViesAnswer:
        """VIES's answer on a well-formed EU VAT id; ViesUnavailable when it has none."""
        try:
            response = await self._client.post(
                "/check-vat-number", json={"countryCode": vat_id[:2], "vatNumber": vat_id[2:]}
            )
        except httpx.HTTPError as exc:
            raise ViesUnavailable(f"VIES unreachable: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        codes = _error_codes(body)
        if codes & VIES_BUSY or response.status_code >= 500 or response.status_code == 429:
            raise ViesUnavailable(f"VIES could not answer ({response.status_code} {sorted(codes)})")
        if "INVALID_INPUT" in codes or (response.status_code == 400 and isinstance(body, dict)):
            return ViesAnswer(valid=False)
        if not response.is_success or not isinstance(body, dict) or "valid" not in body:
            raise ViesUnavailable(f"VIES answered {response.status_code} without a verdict")
        return ViesAnswer(
            valid=body["valid"] is True,
            name=_text(body.get("name")),
            address=_text(body.get("address")),
            consultation=_text(body.get("requestIdentifier")),
        )


def vat_id_for_tax(vat_id: str | None, status: str | None) -> str | None:
    """The VAT id that may change the tax: an EU id only once VIES verified it; a non-EU id as
    it is (VIES has none, and outside the EU the service is not taxable here anyway)."""
    if not vat_id:
        return None
    if vat_id_country(vat_id) is None:
        return vat_id
    return vat_id if status == "verified" else None
