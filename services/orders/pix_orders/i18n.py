"""The orders service's words in German and English: locale/<lang>/LC_MESSAGES/messages.po
(statuses, services, property types, marketing), read at start by pix_runtime.i18n."""

from __future__ import annotations

from pix_runtime.i18n import Catalogue

CATALOGUE = Catalogue.load("pix_orders")
