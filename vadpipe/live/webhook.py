"""POSTing events to a webhook on a thread of its own, so that a slow or dead endpoint never blocks scoring.

Events wait in a bounded queue (the oldest is dropped, and counted, when it is full); each is
POSTed as JSON with retries and exponential backoff, then given up with one warning.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import deque


class Webhook(threading.Thread):
    """``send(payload)`` returns at once; ``close(wait_s)`` delivers what it can within ``wait_s``."""

    def __init__(self, url: str, *, retries: int = 4, backoff: float = 0.5, timeout: float = 5.0,
                 maxlen: int = 256, on_error=None):
        super().__init__(name="vadpipe-webhook", daemon=True)
        self.url, self.retries, self.backoff, self.timeout = url, retries, backoff, timeout
        self.queue: deque[dict] = deque()
        self.maxlen = maxlen
        self.cond = threading.Condition()
        self.closing = threading.Event()
        self.sent = self.failed = self.dropped = 0
        self.on_error = on_error or (lambda message: None)

    def send(self, payload: dict) -> None:
        with self.cond:
            if len(self.queue) >= self.maxlen:
                self.queue.popleft()
                self.dropped += 1
            self.queue.append(payload)
            self.cond.notify()

    def run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.closing.is_set():
                    self.cond.wait(0.2)
                if not self.queue:
                    return
                payload = self.queue.popleft()
            self._deliver(payload)

    def _deliver(self, payload: dict) -> None:
        body = json.dumps(payload).encode("utf-8")
        error = ""
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    if 200 <= response.status < 300:
                        self.sent += 1
                        return
                    error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.retries and self.closing.wait(self.backoff * 2**attempt) and attempt >= 1:
                break  # shutting down: one more try at most, not the whole backoff ladder
        self.failed += 1
        self.on_error(f"--webhook {self.url}: event {payload.get('event', {}).get('id', '?')} not delivered "
                      f"({error}); check that the endpoint is up")

    def close(self, wait_s: float) -> None:
        self.closing.set()
        with self.cond:
            self.cond.notify_all()
        self.join(wait_s)
