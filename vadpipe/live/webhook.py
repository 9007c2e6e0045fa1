"""POSTing events to a webhook on a thread of its own, so that a slow or dead endpoint never blocks scoring.

Events wait in a bounded queue (the oldest is dropped, and counted, when it is full); each is
POSTed as JSON with retries and exponential backoff, then given up with one warning. Every
alert's fate is counted: ``sent``, ``failed`` (given up) or ``dropped`` (pushed out of a full
queue, or still waiting or on its way when the watch ended), so that they add up to ``alerts``.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import deque

from vadpipe.errors import ConfigError

SCHEMES = ("http", "https")


def check_webhook_url(url: str) -> str:
    """``url`` when it is an http(s) URL with a host; ConfigError (param ``webhook``) otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"webhook {url!r} is not a URL ({exc}); give http(s)://host[:port]/path",
                          param="webhook") from None
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise ConfigError(f"webhook {url!r}: give an http:// or https:// URL with a host (http(s)://host[:port]/path)",
                          param="webhook")
    return url


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
        self.alerts = self.sent = self.failed = self.dropped = 0
        self._in_flight = False
        self._closed = False  # counts are final: a delivery that ends later is already counted as dropped
        self.on_error = on_error or (lambda message: None)

    def send(self, payload: dict) -> None:
        with self.cond:
            self.alerts += 1
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
                self._in_flight = True
            try:
                delivered, error = self._deliver(payload)
            except Exception as exc:  # noqa: BLE001 - whatever goes wrong, the alert is counted and the thread goes on
                delivered, error = False, f"{type(exc).__name__}: {exc}"
            with self.cond:
                self._in_flight = False
                if self._closed:
                    return
                if delivered:
                    self.sent += 1
                else:
                    self.failed += 1
            if not delivered:
                self.on_error(f"--webhook {self.url}: event {payload.get('event', {}).get('id', '?')} not delivered "
                              f"({error}); check that the endpoint is up")

    def _deliver(self, payload: dict) -> tuple[bool, str]:
        """POST one alert with retries: (delivered, the last error)."""
        body = json.dumps(payload).encode("utf-8")
        error = ""
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    if 200 <= response.status < 300:
                        return True, ""
                    error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.retries and self.closing.wait(self.backoff * 2**attempt) and attempt >= 1:
                break  # shutting down: one more try at most, not the whole backoff ladder
        return False, error

    def close(self, wait_s: float) -> None:
        """Deliver what can be within ``wait_s``; what is still waiting or on its way then counts as dropped."""
        self.closing.set()
        with self.cond:
            self.cond.notify_all()
        if self.is_alive():
            self.join(wait_s)
        with self.cond:
            self._closed = True
            self.dropped += len(self.queue) + self._in_flight
            self.queue.clear()
