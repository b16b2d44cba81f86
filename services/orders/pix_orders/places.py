"""Address autocomplete through Google Places API (New), called from the server.

The browser never sees the key. Autocomplete is restricted to DE/AT/CH; the client sends a
session token with every keystroke and with the final details request, so Google bills the
whole lookup as one session (the details request ends it). Upstream trouble becomes a clear
502/503, never a crash, and the key never appears in a log line or an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from pix_runtime.errors import DomainError, NotFound
from pix_runtime.logging import get_logger
from pydantic import SecretStr

log = get_logger(__name__)

REGIONS = ["de", "at", "ch"]
# Google's place ids are URL-safe; anything else must not be spliced into the upstream path.
PLACE_ID = re.compile(r"[A-Za-z0-9_-]{1,512}")
SESSION_TOKEN = re.compile(r"[A-Za-z0-9_.~-]{1,100}")
DETAILS_FIELDS = "addressComponents,formattedAddress"


class PlacesDisabled(DomainError):
    status = 404

    def __init__(self) -> None:
        super().__init__("places_disabled", "address autocomplete is not configured")


class PlacesRejected(DomainError):
    """Google refused us (bad or restricted key, quota): a problem of ours, not the user's."""

    status = 502

    def __init__(self, upstream_status: int) -> None:
        super().__init__(
            "places_rejected",
            f"the address service refused the request (HTTP {upstream_status})",
        )


class PlacesUnavailable(DomainError):
    status = 503

    def __init__(self, why: str) -> None:
        super().__init__("places_unavailable", f"the address service is unavailable ({why})")


@dataclass(frozen=True)
class Suggestion:
    place_id: str
    text: str


@dataclass(frozen=True)
class PlaceAddress:
    street: str
    house_number: str
    postcode: str
    city: str
    country: str


class PlacesClient:
    def __init__(
        self, key: SecretStr | None, *, base_url: str, timeout_seconds: float = 5.0
    ) -> None:
        self._key = key
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout_seconds
        self._http: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        return self._key is not None and bool(self._key.get_secret_value())

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def autocomplete(
        self, text: str, *, language: str, session_token: str | None
    ) -> list[Suggestion]:
        self._check_enabled()
        text = text.strip()[:200]
        if not text:
            return []
        body: dict[str, Any] = {
            "input": text,
            "includedRegionCodes": REGIONS,
            "languageCode": language,
        }
        token = _token(session_token)
        if token:
            body["sessionToken"] = token
        data = await self._call("POST", "/v1/places:autocomplete", json=body)
        suggestions: list[Suggestion] = []
        for item in data.get("suggestions") or []:
            # Query predictions ("pizza near…") have no place; only places fill an address.
            prediction = item.get("placePrediction") if isinstance(item, dict) else None
            if not isinstance(prediction, dict):
                continue
            place_id = prediction.get("placeId")
            label = (prediction.get("text") or {}).get("text")
            if isinstance(place_id, str) and isinstance(label, str):
                suggestions.append(Suggestion(place_id, label))
        return suggestions

    async def address(
        self, place_id: str, *, language: str, session_token: str | None
    ) -> PlaceAddress:
        self._check_enabled()
        if not PLACE_ID.fullmatch(place_id):
            raise NotFound("place")
        params = {"languageCode": language}
        token = _token(session_token)
        if token:
            params["sessionToken"] = token
        data = await self._call(
            "GET",
            f"/v1/places/{place_id}",
            params=params,
            headers={"X-Goog-FieldMask": DETAILS_FIELDS},
            missing_is_not_found=True,
        )
        return address_of(data.get("addressComponents") or [])

    def _check_enabled(self) -> None:
        if not self.enabled:
            raise PlacesDisabled()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        missing_is_not_found: bool = False,
    ) -> dict[str, Any]:  # Google's answer, JSON as it came; read only in this module
        assert self._key is not None
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout)
        try:
            response = await self._http.request(
                method,
                path,
                json=json,
                params=params,
                headers={"X-Goog-Api-Key": self._key.get_secret_value(), **(headers or {})},
            )
        except httpx.TimeoutException as exc:
            log.warning("places.timeout", path=_loggable(path))
            raise PlacesUnavailable("timeout") from exc
        except httpx.HTTPError as exc:
            log.warning("places.unreachable", path=_loggable(path), error=type(exc).__name__)
            raise PlacesUnavailable("unreachable") from exc
        if response.status_code in (400, 404) and missing_is_not_found:
            # An unknown or malformed place id (Google answers NOT_FOUND or INVALID_ARGUMENT).
            raise NotFound("place")
        if response.status_code == 429 or response.status_code >= 500:
            log.warning("places.upstream_error", path=_loggable(path), status=response.status_code)
            raise PlacesUnavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            log.error("places.rejected", path=_loggable(path), status=response.status_code)
            raise PlacesRejected(response.status_code)
        try:
            data = response.json()
        except ValueError as exc:
            raise PlacesUnavailable("malformed answer") from exc
        if not isinstance(data, dict):
            raise PlacesUnavailable("malformed answer")
        return data


def address_of(components: list[Any]) -> PlaceAddress:
    """Our address fields from Places `addressComponents` ({longText, shortText, types})."""
    found: dict[str, dict[str, Any]] = {}
    for component in components:
        if not isinstance(component, dict):
            continue
        for kind in component.get("types") or []:
            found.setdefault(kind, component)

    def part(*kinds: str, short: bool = False) -> str:
        for kind in kinds:
            if kind in found:
                value = found[kind].get("shortText" if short else "longText")
                if isinstance(value, str):
                    return value
        return ""

    return PlaceAddress(
        street=part("route"),
        house_number=part("street_number"),
        postcode=part("postal_code"),
        # Small Austrian and Swiss places come as postal_town or a municipality level.
        city=part("locality", "postal_town", "administrative_area_level_3", "sublocality"),
        country=part("country", short=True).upper(),
    )


def _token(session_token: str | None) -> str | None:
    if session_token and SESSION_TOKEN.fullmatch(session_token):
        return session_token
    return None


def _loggable(path: str) -> str:
    # Place ids are not personal, but the path is all we log: never headers (the key).
    return path[:120]
