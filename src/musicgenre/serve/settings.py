"""Settings of the web server (kept free of web imports, so the CLI can build them cheaply)."""

from __future__ import annotations

from dataclasses import dataclass

#: Addresses that expose the server to the network (a warning is printed when binding to them).
PUBLIC_HOSTS = frozenset({"0.0.0.0", "::", "[::]"})


@dataclass(frozen=True)
class ServeSettings:
    """How the server binds, how much it accepts and how much work it takes at once.

    Attributes:
        host / port: where uvicorn listens (localhost by default).
        max_upload_mb: largest request body accepted, in MB (10**6 bytes); larger uploads get 413.
        workers: inference threads (files labelled at the same time).
        queue: requests that may wait for a worker; beyond ``workers + queue`` requests get 503.
        retry_after: seconds sent in ``Retry-After`` with a 503.
        top_k: length of each record's ``top_k`` list.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 100.0
    workers: int = 1
    queue: int = 4
    retry_after: int = 5
    top_k: int = 3

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.queue < 0:
            raise ValueError(f"queue must be 0 or more, got {self.queue}")
        if not self.max_upload_mb > 0:
            raise ValueError(f"max_upload_mb must be positive, got {self.max_upload_mb}")

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1_000_000)

    @property
    def capacity(self) -> int:
        """Requests admitted at once: those being labelled plus those waiting."""
        return self.workers + self.queue

    @property
    def public(self) -> bool:
        """True when bound to every interface (reachable from other machines)."""
        return self.host in PUBLIC_HOSTS
