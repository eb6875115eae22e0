"""Two ASGI middlewares for every response of the service.

SecurityHeaders: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
and a Content-Security-Policy on everything (JSON included: a JSON answer opened
as a page runs nothing). Scripts and styles only from the service's own /static files,
nothing loaded from elsewhere, `frame-ancestors` from IDDS_FRAME_ANCESTORS (the
EHR origins that may embed the checklist; default `'self'`). The /docs page
(Swagger UI from the swagger-ui-bundle package, cds_service/api_docs.py) is left without it.

ForwardedHeaders: X-Forwarded-Proto / -For are believed only from the client
addresses in IDDS_TRUSTED_PROXIES (none by default). uvicorn has its own
proxy-header handling, on by default for 127.0.0.1: run it with
`--no-proxy-headers` (`make run` does) so that this list decides. Security
decisions do not rest on these headers anyway: with authentication on, the JWT
audience, card links, the SMART redirect URI and the cookies' Secure flag all
come from configuration.
"""

from __future__ import annotations

from typing import Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .settings import Settings, app_settings

UNPROTECTED = ("/docs", "/redoc")


def content_security_policy(settings: Settings) -> str:
    # Scripts and styles only as the service's own static files (cds_service/static/): no
    # inline script, style or event handler runs.
    return (
        "default-src 'none'; "
        "script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {settings.frame_ancestors or chr(39) + 'none' + chr(39)}"
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app
        self._csp: dict[str, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        settings = app_settings(scope["app"])
        key = settings.frame_ancestors
        csp = self._csp.get(key)
        if csp is None:
            csp = self._csp[key] = content_security_policy(settings).encode("latin-1")
        with_csp = not scope.get("path", "").startswith(UNPROTECTED)

        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in (
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ):
                    if name not in present:
                        headers.append((name, value))
                if with_csp and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, add)


class ForwardedHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app
        self._trusting: dict[tuple[str, ...], ASGIApp] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        proxies = app_settings(scope["app"]).proxies
        if not proxies:
            return await self.app(scope, receive, send)
        inner = self._trusting.get(proxies)
        if inner is None:
            # uvicorn types ASGI with its own TypedDicts, Starlette with plain mappings: one protocol.
            proxy = ProxyHeadersMiddleware(cast(Any, self.app), trusted_hosts=list(proxies))
            inner = self._trusting[proxies] = cast(ASGIApp, proxy)
        return await inner(scope, receive, send)
