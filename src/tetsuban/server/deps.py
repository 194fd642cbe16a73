"""FastAPI dependencies: the app's state, the viewer, and the checks every state change passes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from tetsuban.server.security import Gate, csrf_ok, may
from tetsuban.server.state import AppState, Viewer


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.tetsuban
    return state


async def gate_of(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


async def viewer(request: Request) -> Viewer:
    """The logged-in viewer; 401 without a live session. (Async, so that it runs without a thread hop: it reads
    remembered sessions, and the store only now and then.)"""
    gate: Gate = request.app.state.gate
    found = gate.viewer(request)
    if found is None:
        raise HTTPException(401, "Log in first, at /login.")
    return found


def changer(role: str = "annotator") -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency for state changes: a live session, the page's CSRF token, and at least ``role``."""

    async def check(request: Request) -> Viewer:
        found = await viewer(request)
        if not csrf_ok(request, found):
            raise HTTPException(403, "The request has no valid CSRF token (X-CSRF-Token). Reload the page.")
        if not may(found, role):
            raise HTTPException(403, f"This needs the role {role} or above; {found.name} is {found.role}.")
        return found

    return check


def reader(role: str) -> Callable[[Request], Awaitable[Viewer]]:
    """A dependency for reads that need at least ``role``."""

    async def check(request: Request) -> Viewer:
        found = await viewer(request)
        if not may(found, role):
            raise HTTPException(403, f"This needs the role {role} or above; {found.name} is {found.role}.")
        return found

    return check
