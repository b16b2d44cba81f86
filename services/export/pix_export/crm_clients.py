"""The two CRM APIs we push photos to, as their documentation describes the requests.

onOffice apiv2 (https://apidoc.onoffice.de):
- one endpoint (`…/api/stable/api.php`), a JSON body `{"token", "request": {"actions": [...]}}`;
- every action carries `timestamp`, `hmac_version: "2"` and `hmac` =
  base64(HMAC-SHA256(secret, timestamp + token + resourcetype + actionid)) ("Action" page);
- `parameters` sorted alphabetically by key (first level only), as the "Action" page demands;
- `uploadfile` ("Do File upload") is two actions: `data` (base64) answers a `tmpUploadId`, then
  `tmpUploadId` + `module: estate` + `relatedRecordId` + `Art`/`title`/`freetext` link it to the
  estate. A temporary id can be used once, so a retry after a failed link step uploads again.
- errors: the body's `status.code` 400 is "not authenticated", 500 a server error; errorcode 97
  means the action failed and the action's own `status` says why.
- the estate's own fields (the order's facts) change with a `modify` action on resourcetype
  `estate` (`resourceid` the estate id, `parameters.data` the fields).
Not verifiable from the documentation found: the exact place of `tmpUploadId` in the answer. We
read it from `response.results[0].data.records[0].elements.tmpUploadId` (the documented
result/record/elements structure of every answer) and fail with a clear error if it is not there.

Propstack API v1 (https://docs.propstack.de, "Objekte › Bilder"): `POST /v1/images` with the
header `X-API-KEY`, JSON `{"image": {imageable_id, imageable_type "Property", photo, title,
is_floorplan, position, is_private}}`; `photo` is sent as a base64 data URL. The property's
own fields: `PUT /v1/units/{id}` with `{"property": {…}}` ("Objekte").

Both clients raise `CrmError`: `retryable` for 429, 5xx and network errors/timeouts (the push
is tried again later), not retryable for what a retry cannot fix (bad credentials, unknown
record). Credentials never appear in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

ACTION_DO = "urn:onoffice-de-ns:smart:2.5:smartml:action:do"
ACTION_MODIFY = "urn:onoffice-de-ns:smart:2.5:smartml:action:modify"
UPLOADFILE = "uploadfile"
ERROR_TEXT_MAX = 300


class CrmError(Exception):
    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Upload:
    """One photo to push: the file, and the CRM's own fields for it (from the export format)."""

    name: str
    data: bytes
    fields: dict[str, Any]  # the CRM's JSON, passed through as the export wrote it


class CrmClient(Protocol):
    # `fields` are the CRM's own JSON (from the export format file), passed through.
    async def update_record(self, record_id: str, fields: dict[str, Any]) -> None:
        """Set the record's own fields (the order's facts); the same fields again change
        nothing, so a retried push may send them again."""

    async def upload(self, record_id: str, upload: Upload) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def _check_http(response: httpx.Response, crm: str) -> None:
    """Raise for an HTTP status that is not success; 429/5xx are worth retrying."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = response.text[:ERROR_TEXT_MAX].strip()
    retryable = status == 429 or status >= 500
    message = f"{crm} answered HTTP {status}" + (f": {detail}" if detail else "")
    if status in (401, 403):
        message = f"{crm} rejected the credentials (HTTP {status}); check them in the settings"
    raise CrmError(
        message, retryable=retryable, status_code=status, retry_after=_retry_after(response)
    )


async def _post(client: httpx.AsyncClient, crm: str, url: str, **kwargs: Any) -> httpx.Response:
    return await _send(client, crm, "POST", url, **kwargs)


async def _send(
    client: httpx.AsyncClient, crm: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise CrmError(f"{crm} did not answer in time", retryable=True) from exc
    except httpx.TransportError as exc:
        raise CrmError(f"{crm} unreachable ({exc.__class__.__name__})", retryable=True) from exc


# --- onOffice -----------------------------------------------------------------------------------


def onoffice_hmac(secret: str, timestamp: str, token: str, resourcetype: str, actionid: str) -> str:
    """HMAC version 2 as documented: base64 of HMAC-SHA256 over the four values concatenated."""
    message = f"{timestamp}{token}{resourcetype}{actionid}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class OnOfficeClient:
    crm = "onOffice"

    def __init__(self, client: httpx.AsyncClient, url: str, token: str, secret: str) -> None:
        self._client = client
        self._url = url
        self._token = token
        self._secret = secret

    def action(
        self,
        parameters: dict[str, Any],
        *,
        identifier: str = "",
        actionid: str = ACTION_DO,
        resourcetype: str = UPLOADFILE,
        resourceid: str = "",
    ) -> dict[str, Any]:  # one action of onOffice's request JSON
        timestamp = str(int(time.time()))
        return {
            "actionid": actionid,
            "resourceid": resourceid,
            "resourcetype": resourcetype,
            "identifier": identifier,
            "timestamp": timestamp,
            "hmac": onoffice_hmac(self._secret, timestamp, self._token, resourcetype, actionid),
            "hmac_version": "2",
            # The documentation requires the first level sorted by key.
            "parameters": dict(sorted(parameters.items())),
        }

    async def _call(
        self, parameters: dict[str, Any], identifier: str, **action: str
    ) -> dict[str, Any]:  # onOffice's answer, JSON as it came
        body = {
            "token": self._token,
            "request": {"actions": [self.action(parameters, identifier=identifier, **action)]},
        }
        response = await _post(self._client, self.crm, self._url, json=body)
        _check_http(response, self.crm)
        try:
            answer: dict[str, Any] = response.json()
            status = answer["status"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CrmError(
                "onOffice answered something that is not an API response",
                retryable=True,
                status_code=response.status_code,
            ) from exc
        code = status.get("code")
        if code == 400:
            raise CrmError(
                "onOffice rejected the credentials (not authenticated): check API token and "
                "secret, and the API user's rights for estate files",
                retryable=False,
                status_code=response.status_code,
            )
        results = (answer.get("response") or {}).get("results") or []
        result = results[0] if results else {}
        action_status = result.get("status") or {}
        if code == 500:
            raise CrmError(
                f"onOffice server error: {str(status.get('message', ''))[:ERROR_TEXT_MAX]}",
                retryable=True,
                status_code=response.status_code,
            )
        if code != 200 or status.get("errorcode", 0) or action_status.get("errorcode", 0):
            message = action_status.get("message") or status.get("message") or "unknown error"
            raise CrmError(
                f"onOffice refused the request: {str(message)[:ERROR_TEXT_MAX]}",
                retryable=False,
                status_code=response.status_code,
            )
        return dict(result)

    async def update_record(self, record_id: str, fields: dict[str, Any]) -> None:
        await self._call(
            {"data": fields},
            "estate",
            actionid=ACTION_MODIFY,
            resourcetype="estate",
            resourceid=record_id,
        )

    async def upload(self, record_id: str, upload: Upload) -> None:
        first = await self._call({"data": base64.b64encode(upload.data).decode()}, upload.name)
        try:
            records = first["data"]["records"]
            tmp_upload_id = str(records[0]["elements"]["tmpUploadId"])
        except (KeyError, IndexError, TypeError) as exc:
            raise CrmError("onOffice returned no tmpUploadId for the file", retryable=True) from exc
        fields = {k: v for k, v in upload.fields.items() if v is not None}
        await self._call(
            {
                **fields,
                "file": upload.name,
                "module": "estate",
                "relatedRecordId": int(record_id),
                "tmpUploadId": tmp_upload_id,
            },
            upload.name,
        )


# --- Propstack ----------------------------------------------------------------------------------


class PropstackClient:
    crm = "Propstack"

    def __init__(self, client: httpx.AsyncClient, base_url: str, api_key: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._url = self._base + "/images"
        self._api_key = api_key

    async def update_record(self, record_id: str, fields: dict[str, Any]) -> None:
        response = await _send(
            self._client,
            self.crm,
            "PUT",
            f"{self._base}/units/{int(record_id)}",
            json={"property": fields},
            headers={"X-API-KEY": self._api_key, "Accept": "application/json"},
        )
        if response.status_code == 404:
            raise CrmError(
                f"Propstack does not know property {record_id}", retryable=False, status_code=404
            )
        _check_http(response, self.crm)

    async def upload(self, record_id: str, upload: Upload) -> None:
        photo = "data:image/jpeg;base64," + base64.b64encode(upload.data).decode()
        image = {
            **upload.fields,
            "imageable_type": "Property",
            "imageable_id": int(record_id),
            "photo": photo,
        }
        response = await _post(
            self._client,
            self.crm,
            self._url,
            json={"image": image},
            headers={"X-API-KEY": self._api_key, "Accept": "application/json"},
        )
        if response.status_code == 404:
            raise CrmError(
                f"Propstack does not know property {record_id}",
                retryable=False,
                status_code=404,
            )
        _check_http(response, self.crm)
