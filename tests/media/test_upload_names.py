"""Hostile upload names become a display name: no path parts, control or bidi characters, NFC."""

from __future__ import annotations

import pytest
from pix_media.uploads import display_name


@pytest.mark.parametrize(
    ("sent", "label"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\Users\\erika\\Küche_01.jpg", "Küche_01.jpg"),
        ("<script>alert(1)</script>.jpg", "script.jpg"),
        ("Rechnung\u202egpj.exe", "Rechnunggpj.exe"),  # right-to-left override
        ("\u2066Bad\u2069_01\u200b.jpg", "Bad_01.jpg"),  # isolates and a zero-width space
        ("Ku\u0308che_01.jpg", "K\u00fcche_01.jpg"),  # macOS writes names decomposed (NFD)
        ("Wohn\tzimmer\n 1.jpg", "Wohn zimmer 1.jpg"),
        ("..", "photo"),
        (".hidden.jpg", "hidden.jpg"),
        ("x" * 300 + ".jpg", "x" * 255),
        ("Wohnzimmer 1.jpg", "Wohnzimmer 1.jpg"),
    ],
)
def test_upload_names_are_cleaned_for_display(sent: str, label: str) -> None:
    assert display_name(sent) == label
