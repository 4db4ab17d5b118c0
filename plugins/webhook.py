"""The ``webhook`` action handler: POSTs a batch's customers as signed JSON to a receiver.

Each POST carries up to ``batch`` items as ``{"run", "action", "ruleset", "deliveries": [...]}`` with
``Idempotency-Key`` (the sha256 of the sorted item keys: the same batch re-sent carries the same key) and
``X-Tierwise-Signature: t=UNIX_SECONDS,v1=HEX``, HEX = HMAC-SHA256 of ``"{t}.{body}"`` under the secret in
the environment variable ``secret_env`` names (read at delivery time; never logged, printed or stored).
Connection errors, timeouts, 408, 429 (``Retry-After`` honoured, capped) and 5xx are retried with
exponential backoff and full jitter; other answers that are not 2xx fail for good with the receiver's
answer; retries used up leave the items pending for ``tierwise actions retry`` (and, when the receiver
gave no answer or said it is unavailable — 429, 502, 503, 504 — the further batches of the same delivery
pass are left pending unsent for ``max_backoff`` seconds; after a 500 the next batches are still tried).
docs/webhooks.md is the receiver's side. Only the standard library: ``http.client``, one kept-alive
connection per receiver for the deliver() calls of one pass (one ActionContext); no proxy is used.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import random
import re
import threading
import time
import weakref
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import (
    DELIVERED,
    FAILED,
    PENDING,
    ActionBatch,
    ActionHandler,
    ActionItem,
    DeliveryResult,
    PluginOptions,
)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_PLACEHOLDER = re.compile(r"^<env:([A-Za-z_][A-Za-z0-9_]*)>$")  # env("VAR") of an unset variable
SIGNATURE_HEADER = "X-Tierwise-Signature"
ANSWER_CHARS = 500  # of a receiver's answer kept in a failed item's detail
READ_LIMIT = 64 * 1024  # bytes of an answer read (a longer one closes the connection)
USER_AGENT = "tierwise-webhook/1"
UNAVAILABLE = (429, 502, 503, 504)  # answers that say the receiver is unavailable for every batch
URL_SAFE = "/?&=%:;@!$'()*+,~-._"


class WebhookOptions(PluginOptions):
    url: str = Field(description="http(s) address the batches are POSTed to")
    secret_env: str = Field(description="NAME of the environment variable holding the signing secret "
                                        "(the secret itself never goes in a rule file)",
                            json_schema_extra={"env_name": True})
    timeout: float = Field(10.0, gt=0, le=600, description="seconds to connect, and to wait for each read "
                                                          "of the answer")
    batch: int = Field(100, ge=1, le=10000, description="deliveries per POST")
    max_attempts: int = Field(5, ge=1, le=50, description="POSTs of one batch before it is left pending")
    backoff: float = Field(0.5, gt=0, le=600, description="seconds of the first retry's backoff cap; "
                                                         "doubles per attempt (full jitter)")
    max_backoff: float = Field(30.0, gt=0, le=3600, description="longest wait between attempts, "
                                                               "Retry-After included")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if ENV_PLACEHOLDER.match(v):  # url: env("HOOK_URL") unset where `check` runs: read at delivery
            return v
        check_url(v)
        return v

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, v: str) -> str:
        # the message never repeats the value: it might be a secret pasted in by mistake
        if not ENV_NAME.match(v):
            raise ValueError("secret_env is the NAME of an environment variable (letters, digits, _), "
                             "like \"CRM_WEBHOOK_SECRET\", never the secret itself")
        return v

    @field_validator("max_backoff")
    @classmethod
    def _max_backoff(cls, v: float, info: Any) -> float:
        if v < info.data.get("backoff", 0):
            raise ValueError("max_backoff must be at least backoff")
        return v


def check_url(v: str) -> None:
    """Raises ValueError unless ``v`` is an http(s) URL with a host and no password."""
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        raise ValueError('not a valid URL (expected like "https://crm.example.com/hooks/tierwise")') from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("the webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("the webhook URL has no host")
    if parts.password is not None:
        raise ValueError("a password in the webhook URL: the rule file is shared; the receiver "
                         "authenticates tierwise by the signature (secret_env)")


def batch_key(keys: list[str]) -> str:
    """The Idempotency-Key of a POST: sha256 over its items' keys, sorted (so the same items in any
    order make the same key)."""
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()


def sign(secret: str, t: int, body: bytes) -> str:
    """The ``X-Tierwise-Signature`` value for ``body`` sent at ``t``."""
    mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def _score(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None  # JSON has no NaN: a missing score is null


def _customer(v: Any) -> Any:
    return v if type(v) is str or (type(v) is int) else str(v)


def body_of(batch: Any, items: list[Any]) -> bytes:
    """The POST body: UTF-8 JSON, non-ASCII as it is, compact."""
    payload = {
        "run": batch.run_id,
        "action": batch.action,
        "ruleset": batch.ruleset,
        "deliveries": [{
            "idempotency_key": it.idempotency_key,
            "customer": _customer(it.customer),
            "tier": it.tier,
            "previous_tier": it.previous_tier,
            "score": _score(it.score),
            "reason": it.reason,
        } for it in items],
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class _Retry(Exception):
    """A retryable outcome of one POST."""

    def __init__(self, why: str, wait: float | None = None, fresh_connection: bool = True, down: bool = True):
        super().__init__(why)
        self.why, self.wait, self.fresh_connection, self.down = why, wait, fresh_connection, down


class _Stop(Exception):
    """Not retried now, not failed for good: the items stay pending (a problem on our side)."""


class _Receiver:
    """One receiver's connection, kept alive across the POSTs of a delivery."""

    def __init__(self, url: str, timeout: float):
        import http.client

        self.http = http.client
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "", parts.port
        # http.client sends the target as ASCII: percent-encode what is not (already encoded stays)
        self.path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=URL_SAFE)
        self.timeout = timeout
        self.conn: Any = None
        # what log lines name: no query string or user (a token may sit there)
        self.where = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path or '/'}"

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connect(self) -> Any:
        if self.https:
            import ssl

            return self.http.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                             context=ssl.create_default_context())
        return self.http.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str, Any]:
        """(status, first characters of the answer, the response's headers); raises OSError and
        http.client errors as they come."""
        reused = self.conn is not None
        if self.conn is None:
            self.conn = self._connect()
        try:
            self.conn.request("POST", self.path, body=body, headers=headers)
            resp = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError):  # RemoteDisconnected included
            if not reused:
                raise
            # a kept-alive connection the receiver closed while idle: once more on a new one, not
            # counted as an attempt (had the receiver taken the batch, its keys repeat: at least once)
            self.close()
            self.conn = self._connect()
            self.conn.request("POST", self.path, body=body, headers=headers)
            resp = self.conn.getresponse()
        data = resp.read(READ_LIMIT)
        if not resp.isclosed():  # an answer longer than we read: do not reuse the connection
            self.close()
        elif resp.will_close:
            self.close()
        return resp.status, data.decode("utf-8", "replace")[:ANSWER_CHARS], resp.headers


class _Link:
    """What the deliver() calls of one delivery pass (one ActionContext: the outbox hands a handler one
    POST's worth of items per call) share per receiver: the kept-alive connection, and whether the receiver
    was found unavailable — then the further batches stay pending unsent for ``max_backoff`` seconds rather
    than each waiting out every retry."""

    def __init__(self, url: str, timeout: float):
        self.receiver = _Receiver(url, timeout)
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.down_why = ""
        self.skip_logged = False


_LINKS: dict[int, dict[tuple[str, float], _Link]] = {}  # by id() of a live ActionContext
_LINKS_LOCK = threading.Lock()


def _forget(context_id: int) -> None:
    for link in _LINKS.pop(context_id, {}).values():
        link.receiver.close()


def _link(context: Any, url: str, timeout: float) -> tuple[_Link, bool]:
    """The link of ``context`` to ``url`` and whether it is shared (kept after this call; dropped, its
    connection closed, when the context is)."""
    if context is None:
        return _Link(url, timeout), False
    with _LINKS_LOCK:
        per = _LINKS.get(id(context))
        if per is None:
            try:
                weakref.finalize(context, _forget, id(context))
            except TypeError:  # a context that takes no weak reference: nothing shared
                return _Link(url, timeout), False
            per = _LINKS[id(context)] = {}
        link = per.get((url, timeout))
        if link is None:
            link = per[(url, timeout)] = _Link(url, timeout)
        return link, True


class WebhookAction(ActionHandler):
    """POSTs the customers as signed JSON batches; see docs/webhooks.md for the receiver's side."""

    name = "webhook"
    Options = WebhookOptions
    positional = ("url",)
    batch_size = 1000

    def deliver(self, batch: ActionBatch) -> list[DeliveryResult]:
        opts: WebhookOptions = batch.options
        items = list(batch.items)
        if not items:
            return []
        missing = self._missing_setting(opts)
        if missing:
            batch.log(f"action=webhook run={batch.run_id} {len(items)} item(s) pending: {missing}")
            return [DeliveryResult(it.idempotency_key, PENDING, missing) for it in items]
        secret = os.environ[opts.secret_env]
        from_env = ENV_PLACEHOLDER.match(opts.url)
        url = os.environ[from_env.group(1)] if from_env else opts.url
        try:
            check_url(url)
        except ValueError as exc:
            detail = f"the environment variable {from_env.group(1) if from_env else ''} (url) holds no usable URL: " \
                     f"{exc}; nothing was sent"
            batch.log(f"action=webhook run={batch.run_id} {len(items)} item(s) pending: {detail}")
            return [DeliveryResult(it.idempotency_key, PENDING, detail) for it in items]
        link, shared = _link(batch.context, url, opts.timeout)
        if not link.lock.acquire(blocking=False):  # another thread delivers through it: a link of its own
            link, shared = _Link(url, opts.timeout), False
            link.lock.acquire()
        receiver = link.receiver
        results: list[DeliveryResult] = []
        counts = {DELIVERED: 0, FAILED: 0, PENDING: 0}
        posts = retries = 0
        chunks = [items[i:i + opts.batch] for i in range(0, len(items), opts.batch)]
        try:
            for n, chunk in enumerate(chunks, 1):
                if link.down_until > time.monotonic():  # found unavailable by an earlier batch: do not hammer it
                    status = PENDING
                    detail = f"not sent: the receiver was unavailable for an earlier batch ({link.down_why})"
                    if not link.skip_logged:
                        batch.log(f"action=webhook run={batch.run_id} url={receiver.where}: further batches "
                                  f"left pending unsent for {opts.max_backoff:g}s, the receiver being unavailable")
                        link.skip_logged = True
                else:
                    status, detail, tries, down = self._send(batch, chunk, n, len(chunks), receiver, secret, opts)
                    posts += tries
                    retries += tries - 1
                    if status == PENDING and down:
                        link.down_until, link.down_why = time.monotonic() + opts.max_backoff, detail
                        link.skip_logged = False
                results += [DeliveryResult(it.idempotency_key, status, detail) for it in chunk]
                counts[status] += len(chunk)
        finally:
            if not shared:
                receiver.close()
            link.lock.release()
        if posts and (len(chunks) > 1 or retries or counts[DELIVERED] < len(items)):  # else one POST, delivered
            batch.log(f"action=webhook run={batch.run_id} url={receiver.where} {len(chunks)} batch(es) in "
                      f"{posts} attempt(s), {retries} retried: {counts[DELIVERED]} delivered, "
                      f"{counts[FAILED]} failed, {counts[PENDING]} pending")
        return results

    @staticmethod
    def _missing_setting(opts: WebhookOptions) -> str:
        if not os.environ.get(opts.secret_env):
            return (f"the environment variable {opts.secret_env} (secret_env, the signing secret) is not set "
                    f"or empty where tierwise delivers: nothing was sent; set it, then `tierwise actions retry`")
        m = ENV_PLACEHOLDER.match(opts.url)
        if m and not os.environ.get(m.group(1)):
            return (f"the environment variable {m.group(1)} (url) is not set or empty where tierwise delivers: "
                    f"nothing was sent; set it, then `tierwise actions retry`")
        return ""

    def _send(self, batch: ActionBatch, chunk: list[ActionItem], n: int, total: int, receiver: _Receiver, secret: str,
              opts: WebhookOptions) -> tuple[str, str, int, bool]:
        """POST one batch until it is answered for good or the attempts are used up: (status, detail,
        POSTs made, whether the receiver is down for every batch: no answer, 429, 502, 503 or 504 — after a
        500 the next batches are still tried, so a batch the receiver chokes on holds back no other)."""
        body = body_of(batch, chunk)
        key = batch_key([it.idempotency_key for it in chunk])
        label = f"action=webhook run={batch.run_id} batch {n}/{total} ({len(chunk)} item(s), key {key[:12]}…)"
        attempt = 0
        while True:
            attempt += 1
            t = int(time.time())
            headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                       SIGNATURE_HEADER: sign(secret, t, body), "User-Agent": USER_AGENT}
            try:
                code, answer, answer_headers = self._attempt(receiver, body, headers, opts)
                if 200 <= code < 300:
                    return DELIVERED, f"HTTP {code}", attempt, False
                if code in (408, 429) or code >= 500:
                    wait = retry_after(answer_headers.get("Retry-After"), time.time()) if code in (429, 503) \
                        else None
                    raise _Retry(f"HTTP {code}" + (f": {answer}" if answer else ""), wait,
                                 fresh_connection=False, down=code in UNAVAILABLE)
                detail = f"HTTP {code}: {answer}" if answer else f"HTTP {code}"
                if 300 <= code < 400:
                    location = answer_headers.get("Location", "")
                    detail = (f"HTTP {code} redirect{f' to {location}' if location else ''}: webhook does not "
                              f"follow redirects, set url to the final address")[:ANSWER_CHARS + 100]
                batch.log(f"{label} failed: {detail}")
                return FAILED, detail, attempt, False
            except _Stop as exc:
                batch.log(f"{label} left pending: {exc}")
                return PENDING, str(exc), attempt, True
            except _Retry as exc:
                if exc.fresh_connection:
                    receiver.close()
                if attempt >= opts.max_attempts:
                    detail = f"not delivered after {attempt} attempt(s), last: {exc.why}"
                    batch.log(f"{label} left pending: {detail}")
                    return PENDING, detail, attempt, exc.down
                cap = min(opts.max_backoff, opts.backoff * 2 ** (attempt - 1))
                wait = min(exc.wait, opts.max_backoff) if exc.wait is not None else random.uniform(0, cap)
                batch.log(f"{label} attempt {attempt}/{opts.max_attempts}: {exc.why}; retry in {wait:.2f}s")
                time.sleep(wait)

    @staticmethod
    def _attempt(receiver: _Receiver, body: bytes, headers: dict[str, str],
                 opts: WebhookOptions) -> tuple[int, str, Any]:
        import http.client
        import socket
        import ssl

        try:
            return receiver.post(body, headers)
        except ssl.SSLCertVerificationError as exc:
            receiver.close()
            raise _Stop(f"the receiver's TLS certificate did not verify ({exc.verify_message}): nothing more "
                        f"was sent; fix it, then `tierwise actions retry`") from None
        except (TimeoutError, socket.timeout):
            raise _Retry(f"no answer within {opts.timeout:g}s (the receiver may have the batch: a retry "
                         f"carries the same keys)") from None
        except ConnectionRefusedError:
            raise _Retry(f"connection refused by {receiver.where}") from None
        except ConnectionResetError as exc:  # http.client.RemoteDisconnected included
            raise _Retry(f"connection reset by {receiver.where} ({type(exc).__name__})") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(f"{type(exc).__name__} talking to {receiver.where}: {exc}") from None
        except Exception as exc:  # nothing else is expected; the items stay pending rather than lost
            receiver.close()
            raise _Stop(f"{type(exc).__name__} sending to {receiver.where}: {exc}") from None


@hookimpl
def tierwise_register_actions() -> list[type[ActionHandler]]:
    return [WebhookAction]
