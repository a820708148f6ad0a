"""The API's documentation pages, /docs (Swagger UI) and /redoc, served with no request to another host.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, which is a blank page offline and on networks that
block CDNs. The assets come from the `fastapi-offline` wheel (MIT, Swagger UI 5 and ReDoc 2) and are served
by the app under /docs-assets, so they work locally and behind an API Gateway stage (/Prod/docs).
"""

from importlib.resources import files
from typing import Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from functions.config import MIB, Settings
from functions.scoring.contract import MAX_BATCH

ASSETS_URL: Final = "/docs-assets"
ASSETS_DIR: Final = str(files("fastapi_offline").joinpath("static"))
# Swagger UI's default validator badge calls validator.swagger.io; null turns it off.
SWAGGER_PARAMETERS: Final = {"validatorUrl": None, "defaultModelsExpandDepth": 0}


def prefix_of(request: Request) -> str:
    """Return the path prefix the client sees (a stage like /Prod, a proxy's root path), without a slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def install_docs(app: FastAPI, *, openapi_url: str) -> None:
    """Serve /docs and /redoc from assets shipped with the app (build `app` with docs_url=redoc_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        """Serve Swagger UI for this API from the app's own assets."""
        root = prefix_of(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    async def redoc(request: Request) -> HTMLResponse:
        """Serve ReDoc for this API from the app's own assets, without web fonts."""
        root = prefix_of(request)
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.get("/docs", include_in_schema=False)(swagger_ui)
    app.get("/redoc", include_in_schema=False)(redoc)


def api_description(settings: Settings) -> str:
    """Return the OpenAPI description (markdown) with this deployment's body limit and the contract's batch size."""
    limit = (
        f"{settings.max_body_bytes / MIB:g} MiB"
        if settings.max_body_bytes >= MIB
        else f"{settings.max_body_bytes:,} bytes"
    )
    return f"""
Scores credit-card clients (the 23 inputs of the UCI dataset) with a verified gradient-boosted model:
probability of default next month, decision at the model's threshold, scorecard points, risk grade and up to
four reasons a credit officer can quote; then the credit strategy's decision (approve, refer or decline, with the
rule or PD band that decided), the credit-line action and new limit, expected loss and the champion-challenger arm.

**Bodies** are JSON: send `Content-Type: application/json`. A body without any Content-Type is read as JSON
too (API Gateway test events carry none); any other type gets 415. Bodies above {limit} get 413; a batch
holds 1 to {MAX_BATCH:,} applicants. Inputs are strict: `true` or `"5"` is not a number, unknown fields are
refused, NaN and infinities are refused, and a key sent twice in one object gets 400 `duplicate_key`.

**Errors**: every 4xx and 5xx answer has the body `{{"error": {{"code", "message", "request_id", "fields"}}}}`;
`fields` lists each invalid input as `{{"field", "index", "type", "message", "hint"}}` and never repeats the
submitted value. A 5xx is never caused by the input: 503 means the model, the credit strategy or the audit
trail is unavailable (no decision is made), 500 a fault of the service. Each answer carries an `X-Request-Id`
header.
"""
