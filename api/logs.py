"""Logging: one configuration for a server process, and no secret in any line.

Owns ``configure``: structlog and the standard library's loggers (uvicorn's
``uvicorn.error`` and ``uvicorn.access`` included) write through one handler on
stderr, as JSON lines when stderr is not a terminal and as readable lines on
one, filtered at one level. Every event, Retrace's or a library's, passes
``Redact`` last before it is rendered: fields named like a secret (API key,
``Authorization``, ``X-API-Key``, cookies, sessions, kept answers) are masked
whole, and in any string whatever is shaped like a Retrace API key or passport
session, a bearer credential, a secret-named query parameter, or one of the
literal secrets the settings hold (the bootstrap admin key, database and Redis
passwords). Exceptions become a
plain traceback string before that, so their messages are masked too; no
traceback ever shows local variables.

``retrace serve`` configures the supervisor; ``api.app.app_from_env`` each
worker. Tests that build apps themselves leave logging as it is.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from sqlalchemy.engine import make_url

from api.settings import Settings
from ledger.orgs import KEY_PREFIX
from ledger.sessions import SESSION_PREFIX

__all__ = ["MASK", "STDLIB_LOGGERS", "Redact", "configure", "configure_from"]

MASK = "[redacted]"
Format = Literal["auto", "json", "console"]

# uvicorn's loggers.
STDLIB_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

# Field names whose values are secrets, compared lowercased with "-" read as "_".
SECRET_FIELDS = frozenset(
    {
        "api_key",
        "apikey",
        "x_api_key",
        "authorization",
        "proxy_authorization",
        "cookie",
        "cookies",
        "set_cookie",
        "session",
        "session_id",
        "passport_session",
        "password",
        "passwd",
        "secret",
        "token",
        "bootstrap_admin_key",
        "answer",
        "idempotent_answer",
        "sealed",
    }
)

# A key is the prefix and 43 URL-safe base64 characters (``ledger.orgs``); a
# session id likewise (``ledger.sessions``). Shorter tails are masked too.
_SHAPED = re.compile(
    rf"\b(?:{re.escape(KEY_PREFIX)}|{re.escape(SESSION_PREFIX)})[A-Za-z0-9_\-]{{8,}}"
)
# HTTP credentials: a bearer token of any shape; Basic's base64 user and password.
_BEARER = re.compile(r"\b([Bb]earer|BEARER)\s+[^\s\"',;]+|\b(Basic)\s+[A-Za-z0-9+/]{8,}=*")
# A secret-named parameter of a query string (an access log line shows the query).
_QUERY = re.compile(
    r"(?i)([?&](?:api[_-]?key|key|token|access_token|session|password|secret)=)[^&#\s\"']+"
)
_SHORTEST_LITERAL = 8


def _is_secret_field(name: object) -> bool:
    return isinstance(name, str) and name.lower().replace("-", "_") in SECRET_FIELDS


class Redact:
    """A structlog processor: the event with every secret masked (see the module)."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        kept = sorted({s for s in literals if len(s) >= _SHORTEST_LITERAL}, key=len, reverse=True)
        self._literals = re.compile("|".join(map(re.escape, kept))) if kept else None

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> dict[str, Any]:
        return {
            key: MASK if _is_secret_field(key) else self._clean(value)
            for key, value in event.items()
        }

    def text(self, value: str) -> str:
        value = _SHAPED.sub(MASK, value)
        value = _BEARER.sub(lambda m: f"{m.group(1) or m.group(2)} {MASK}", value)
        value = _QUERY.sub(lambda m: m.group(1) + MASK, value)
        if self._literals is not None:
            value = self._literals.sub(MASK, value)
        return value

    def _clean(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray | memoryview):
            return f"[{len(value)} bytes]"
        if isinstance(value, Mapping):
            return {k: MASK if _is_secret_field(k) else self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._clean(v) for v in value]
        # Anything else is rendered from its repr: masked as text.
        return self.text(repr(value))


def _renderer(fmt: Format, stream: TextIO) -> Any:
    terminal = stream.isatty()
    if fmt == "console" or (fmt == "auto" and terminal):
        # Exceptions arrive formatted (a plain traceback string), never with locals.
        return structlog.dev.ConsoleRenderer(
            colors=terminal, exception_formatter=structlog.dev.plain_traceback
        )
    return structlog.processors.JSONRenderer()


def configure(
    level: str = "info",
    *,
    fmt: Format = "auto",
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Send every log event of this process, at ``level`` and above, to ``stream``
    (stderr) through one formatter that masks secrets. Calling it again replaces
    the configuration.

    Args:
        level: debug, info, warning, error or critical.
        fmt: json, console, or auto (console on a terminal, else JSON lines).
        secrets: literal values to mask wherever they appear (8 characters or more).
    """
    number = logging.getLevelNamesMapping()[level.upper()]
    out = stream if stream is not None else sys.stderr
    stamped: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=stamped,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            Redact(secrets),
            _renderer(fmt, out),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(number)
    for name in STDLIB_LOGGERS:
        # uvicorn's own handlers (its default dictConfig) give way to the root's; a
        # logger uvicorn silenced (no access log with several workers) stays so.
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.handlers.clear()
            logger.propagate = True
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *stamped,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(number),
        # Not cached: a later configure (or a test's capture) reaches every logger.
        cache_logger_on_first_use=False,
    )


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return make_url(url).password
    except ValueError:
        return None


def configure_from(settings: Settings) -> None:
    """``configure`` with the settings' level and format, masking the secrets they hold."""
    literals = [
        settings.bootstrap_admin_key.get_secret_value() if settings.bootstrap_admin_key else None,
        _url_password(settings.database()),
        _url_password(settings.redis()),
    ]
    configure(
        settings.log_level,
        fmt=settings.log_format,
        secrets=[s for s in literals if s],
    )
