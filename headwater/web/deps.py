"""What every route may ask for: the app's Workspace (``ws: Ws``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from headwater.workspace import Workspace


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


Ws = Annotated[Workspace, Depends(workspace)]
