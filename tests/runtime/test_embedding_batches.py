"""`CoalescingEmbedder`: calls that arrive while the model is busy share its next call, each
caller gets its own vectors back, and a failure reaches exactly the callers of that batch."""

from __future__ import annotations

import asyncio

import pytest
from pix_runtime.embeddings import CoalescingEmbedder, EmbeddingError


class CountingModel:
    """Stands in for the model: a vector that names its text, and a gate to hold a call."""

    model = "counting"
    dim = 1

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_on: str | None = None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        await self.gate.wait()
        if self.fail_on in texts:
            raise EmbeddingError("model failed")
        return [[float(len(t))] for t in texts]


async def test_calls_made_while_the_model_is_busy_go_together_and_get_their_own_vectors() -> None:
    inner = CountingModel()
    embedder = CoalescingEmbedder(inner)
    inner.gate.clear()
    first = asyncio.create_task(embedder.embed(["a"]))
    while not inner.calls:
        await asyncio.sleep(0)
    # The first call went alone and at once; these wait for it.
    rest = [asyncio.create_task(embedder.embed(["b" * n, "c" * n])) for n in range(2, 7)]
    await asyncio.sleep(0)
    inner.gate.set()
    assert await first == [[1.0]]
    assert [await r for r in rest] == [[[float(n)], [float(n)]] for n in range(2, 7)]
    assert [len(c) for c in inner.calls] == [1, 10]
    assert embedder.model == "counting"
    assert embedder.dim == 1


async def test_a_batch_is_capped_and_the_next_one_follows() -> None:
    inner = CountingModel()
    embedder = CoalescingEmbedder(inner, max_texts=4)
    inner.gate.clear()
    first = asyncio.create_task(embedder.embed(["x"]))
    while not inner.calls:
        await asyncio.sleep(0)
    rest = [asyncio.create_task(embedder.embed(["y", "z"])) for _ in range(5)]
    await asyncio.sleep(0)
    inner.gate.set()
    await asyncio.gather(first, *rest)
    assert [len(c) for c in inner.calls] == [1, 4, 4, 2]


async def test_a_failure_reaches_the_callers_of_its_batch_only() -> None:
    inner = CountingModel()
    embedder = CoalescingEmbedder(inner, max_texts=2)
    inner.gate.clear()
    inner.fail_on = "bad"
    first = asyncio.create_task(embedder.embed(["ok"]))
    while not inner.calls:
        await asyncio.sleep(0)
    doomed = asyncio.create_task(embedder.embed(["bad", "x"]))
    fine = asyncio.create_task(embedder.embed(["fine"]))
    await asyncio.sleep(0)
    inner.gate.set()
    assert await first == [[2.0]]
    with pytest.raises(EmbeddingError):
        await doomed
    assert await fine == [[4.0]]
    assert await embedder.embed([]) == []
