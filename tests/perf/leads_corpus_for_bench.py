"""The portal mails of the leads corpus (tests/leads/corpus) that become leads, for the bench."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).parents[1] / "leads" / "corpus"
_EXPECTED = json.loads((CORPUS / "expected.json").read_text())

PORTAL_MAILS: list[bytes] = [
    (CORPUS / f"{name}.eml").read_bytes()
    for name, facts in sorted(_EXPECTED.items())
    if "not_a_lead" not in facts and "needs" not in facts
]
