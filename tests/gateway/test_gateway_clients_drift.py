"""The gateway's generated client models match the services' OpenAPI documents of today."""

import re

from pix_stack.clients import CLIENTS_DIR, GATEWAY_SERVICES, drifted


def test_committed_client_models_match_the_services_openapi() -> None:
    assert sorted(p.name for p in CLIENTS_DIR.glob("*_models.py")) == sorted(
        f"{service}_models.py" for service in GATEWAY_SERVICES
    )
    assert drifted() == [], "run `make clients` and commit services/gateway/pix_gateway/clients/"


def test_the_gateway_package_imports_no_service() -> None:
    for path in CLIENTS_DIR.parent.rglob("*.py"):
        imported = re.findall(r"^\s*(?:from|import)\s+(pix_\w+)", path.read_text(), re.M)
        services = {f"pix_{service}" for service in GATEWAY_SERVICES}
        assert not services & set(imported), f"{path} imports a service package"
