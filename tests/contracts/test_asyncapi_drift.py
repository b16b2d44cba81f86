from pix_stack.asyncapi import DOCS_DIR, drifted


def test_committed_asyncapi_documents_match_the_code() -> None:
    assert sorted(p.stem for p in DOCS_DIR.glob("*.yaml")) == [
        "assistant",
        "auth",
        "billing",
        "captioning",
        "export",
        "leads",
        "listings",
        "media",
        "notify",
        "orders",
    ]
    assert drifted() == [], "run `make asyncapi` and commit contracts/asyncapi/"


def test_documents_carry_the_event_schemas() -> None:
    media = (DOCS_DIR / "media.yaml").read_text()
    for field in ("pseudonym", "web_key", "room_type", "sha256"):
        assert field in media
