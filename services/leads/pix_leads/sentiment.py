"""Sentiment (the brief's SentimentService): a keyword `quick_score` in German and English that
always runs, and a full analysis through any OpenAI-compatible chat-completions endpoint when a
model is configured. Without a model, or when it fails, the keyword result stands.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Literal

from openai import AsyncOpenAI
from pix_runtime.logging import get_logger
from pydantic import BaseModel, Field, ValidationError

log = get_logger(__name__)

BUYING = (
    "kaufen",
    "besichtigen",
    "besichtigung",
    "termin",
    "finanzierung gesichert",
    "zusage",
    "sofort",
    "interessiert",
    "interesse",
    "gefällt",
    "perfekt",
    "genau das",
    "unterlagen",
    "exposé",
    "expose",
    "reservieren",
    "zuschlagen",
    "buy",
    "viewing",
    "interested",
    "love",
    "perfect",
    "exactly",
    "approved",
    "secured",
    "reserve",
    "documents",
    "offer",
    "angebot",
)
RISK = (
    "zu teuer",
    "teuer",
    "leider",
    "absage",
    "kein interesse",
    "nicht mehr",
    "anderweitig",
    "bedenken",
    "problem",
    "zu klein",
    "zu groß",
    "zu weit",
    "preis verhandeln",
    "günstiger",
    "too expensive",
    "expensive",
    "unfortunately",
    "not interested",
    "no longer",
    "concern",
    "problem",
    "too small",
    "too far",
    "cheaper",
    "found something else",
    "etwas anderes gefunden",
)
URGENCY = (
    "dringend",
    "sofort",
    "schnellstmöglich",
    "eilig",
    "asap",
    "heute",
    "morgen",
    "diese woche",
    "urgent",
    "immediately",
    "as soon as possible",
    "today",
    "tomorrow",
    "this week",
)


class QuickScore(BaseModel):
    sentiment: Literal["positive", "neutral", "negative"]
    score: int = Field(description="-100 (negative) to 100 (positive)")
    urgency: Literal["low", "medium", "high"]
    buying_signals: list[str]
    risk_signals: list[str]


@functools.cache
def _whole_word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")


def _found(text: str, words: tuple[str, ...]) -> list[str]:
    lowered = text.lower()
    # The substring test first: most words are absent, and it is a fraction of a regex search.
    return sorted({w for w in words if w in lowered and _whole_word(w).search(lowered)})


def quick_score(text: str) -> QuickScore:
    buying, risk, urgent = _found(text, BUYING), _found(text, RISK), _found(text, URGENCY)
    raw = 20 * len(buying) - 25 * len(risk)
    value = max(-100, min(100, raw))
    sentiment: Literal["positive", "neutral", "negative"] = (
        "positive" if value >= 20 else "negative" if value <= -20 else "neutral"
    )
    urgency: Literal["low", "medium", "high"] = (
        "high" if len(urgent) >= 2 else "medium" if urgent else "low"
    )
    return QuickScore(
        sentiment=sentiment, score=value, urgency=urgency, buying_signals=buying, risk_signals=risk
    )


class FullAnalysis(BaseModel):
    sentiment: Literal["very_positive", "positive", "neutral", "negative", "very_negative"]
    urgency: Literal["low", "medium", "high"]
    tone: str = Field(max_length=100)
    buying_signals: list[str] = Field(default_factory=list, max_length=20)
    risk_signals: list[str] = Field(default_factory=list, max_length=20)
    summary: str = Field(default="", max_length=1000)


PROMPT_VERSION = "lead-sentiment-1"
SYSTEM_PROMPT = (
    "You analyse a real-estate inquiry or a reply to an estate agent. Answer with one JSON "
    'object: {"sentiment": "very_positive|positive|neutral|negative|very_negative", '
    '"urgency": "low|medium|high", "tone": "<a few words>", "buying_signals": ["..."], '
    '"risk_signals": ["..."], "summary": "<one sentence in the message\'s language>"}. '
    "No other text."
)


class SentimentModel:
    """The full analysis through the official `openai` client (any compatible endpoint)."""

    def __init__(self, *, base_url: str | None, api_key: str, model: str, timeout: float) -> None:
        self.model = model
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1
        )

    async def analyse(self, text: str) -> FullAnalysis | None:
        """The model's analysis, or None when it fails or answers nonsense (logged)."""
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": text[:6000]},
                ],
                response_format={"type": "json_object"},
                temperature=0,
            )
            content = response.choices[0].message.content or ""
            return FullAnalysis.model_validate(json.loads(content))
        except (ValidationError, ValueError, IndexError) as exc:
            log.warning("sentiment.bad_answer", model=self.model, error=repr(exc)[:300])
        except Exception as exc:  # the endpoint is down, slow or refuses: the keywords stand
            log.warning("sentiment.failed", model=self.model, error=repr(exc)[:300])
        return None

    async def aclose(self) -> None:
        await self._client.close()
