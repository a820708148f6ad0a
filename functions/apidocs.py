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
