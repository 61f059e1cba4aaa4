"""The pages on the service's app: the shared parts, then each group of pages."""

from __future__ import annotations

from fastapi import FastAPI

from scoring.service.web import account_pages, assessment_pages, pages


def mount(app: FastAPI, *, secure_cookies: bool) -> None:
    """Add the facility's pages to the service's app (``secure_cookies``: cookies only
    over HTTPS - off for ``carescore serve --dev`` on plain HTTP)."""
    pages.install(app, secure_cookies)
    account_pages.install(app)
    app.include_router(assessment_pages.router)
