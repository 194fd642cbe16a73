"""The HTML pages: labeling one by one, the grid, logging in and out, and the language switch."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tetsuban.server.deps import app_state, changer, gate_of
from tetsuban.server.i18n import LANG_COOKIE, LANGUAGES, MESSAGES, language, other
from tetsuban.server.queues import QUEUES
from tetsuban.server.security import LOGIN_COOKIE, SESSION_COOKIE, Gate, may
from tetsuban.server.state import AppState, Viewer
from tetsuban.templating import html_templates

router = APIRouter()
_pages = html_templates("tetsuban.server")
State = Annotated[AppState, Depends(app_state)]
GateDep = Annotated[Gate, Depends(gate_of)]


def _page(request: Request, state: AppState, gate: Gate, template: str, mode: str) -> Response:
    who = gate.viewer(request)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    lang = language(request)
    queues = [q for q in QUEUES if q != "review" or may(who, "reviewer")]
    html = _pages.get_template(template).render(
        name=state.project.config.name,
        classes=state.classes(reread=True),
        queues=queues,
        viewer=who,
        open=gate.open(),
        mode=mode,
        lang=lang,
        other=other(lang),
        t=MESSAGES[lang],
        may_add_class=may(who, "reviewer"),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/", response_class=HTMLResponse)
def single_page(request: Request, state: State, gate: GateDep) -> Response:
    return _page(request, state, gate, "label.html.j2", "single")


@router.get("/grid", response_class=HTMLResponse)
def grid_page(request: Request, state: State, gate: GateDep) -> Response:
    return _page(request, state, gate, "grid.html.j2", "grid")


@router.get("/lang/{code}")
def switch_language(code: str, back: str = "/") -> Response:
    if code not in LANGUAGES:
        raise HTTPException(404, f"The app speaks {', '.join(LANGUAGES)}. Got {code[:8]!r}.")
    target = back if back in ("/", "/grid", "/login") else "/"  # never a redirect off the site
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="strict")
    return response


def _login_form(request: Request, error: str | None, status: int = 200) -> Response:
    lang = language(request)
    token = secrets.token_urlsafe(24)
    html = _pages.get_template("login.html.j2").render(
        t=MESSAGES[lang], lang=lang, other=other(lang), csrf=token, error=error
    )
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    secure = request.url.scheme == "https"
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=3600)
    return response


def _come_back(request: Request, message: str, seconds: int, status: int = 429) -> Response:
    response = _login_form(request, message, status)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return _login_form(request, None)


@router.post("/login")
def log_in(
    request: Request,
    gate: GateDep,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=128)],
) -> Response:
    """Check the form's CSRF token against its cookie, the rate limit, then the password; start a session."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf):
        raise HTTPException(403, "The login form's CSRF token is missing or wrong. Reload the login page.")
    t = MESSAGES[language(request)]
    address = request.client.host if request.client else "unknown"
    keys = [f"name:{name}", f"address:{address}"]
    wait = gate.limiter.begin(keys)
    if wait > 0:
        return _come_back(request, t["too_many"].format(s=int(wait) + 1), int(wait) + 1)
    with gate.hashing.slot() as had:
        user = gate.accounts.verify(name, password) if had else None
    if not had:
        return _come_back(request, t["busy"], 5, status=503)
    if user is None:
        return _login_form(request, t["wrong_login"], 401)
    gate.limiter.succeeded(keys)
    session = gate.accounts.start_session(user)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def log_out(request: Request, gate: GateDep, _who: Annotated[Viewer, Depends(changer())]) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        gate.end_session(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
