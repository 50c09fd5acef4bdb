"""What bounds the work a client can ask for: the body size, and how many requests run or wait.

Every request that needs a thread takes a slot from the ``Limiter``. ``slots`` run at once (the
thread pool's size); ``backlog`` more may wait. A request that would be one too many is refused at
once with ``Overloaded`` (503 and ``Retry-After``): under overload the server answers every
request, quickly, instead of letting a queue grow until clients time out and requests are lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from envfoundry.errors import EnvfoundryError, InvalidInputError


class PayloadTooLarge(InvalidInputError):
    """A request body over the limit."""

    status = 413


class TooManySessions(InvalidInputError):
    """A new curriculum session beyond ``max_sessions``."""

    status = 429


class Overloaded(EnvfoundryError):
    """Every slot is busy and the backlog is full: try again shortly."""

    status = 503

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Limiter:
    """At most ``slots`` holders at once, at most ``backlog`` waiting; the rest are refused.

    Used from the event loop only (no locks: asyncio runs one coroutine at a time).
    """

    def __init__(self, slots: int, backlog: int) -> None:
        self.slots = slots
        self.backlog = backlog
        self.running = 0
        self.waiting = 0
        self.refused = 0
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def check(self) -> None:
        """Refuse at once if a slot could not be had now: called before reading a request's body, so
        that under overload the server spends nothing on requests it will refuse."""
        if self.running + self.waiting >= self.slots + self.backlog:
            self.refused += 1
            raise Overloaded(f"the server is at capacity ({self.running} requests running, {self.waiting} "
                             "waiting); retry after a second")  # fmt: skip

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.check()
        # The semaphore belongs to the loop that serves (a new one if the app is started again).
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore, self._loop = asyncio.Semaphore(self.slots), loop
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._semaphore.release()


async def read_body(receive_chunks: AsyncIterator[bytes], content_length: str | None, limit: int) -> bytes:
    """The whole body, refused with ``PayloadTooLarge`` as soon as it is known to exceed ``limit``
    bytes: from the Content-Length header before reading, or while reading a chunked body."""
    too_large = f"the request body is larger than the limit of {limit:,} bytes; send smaller batches"
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(too_large)
    chunks, size = [], 0
    async for chunk in receive_chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)
