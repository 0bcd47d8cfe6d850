"""WebSocket mode on /v1/responses (Open Responses 2026-04-24). Filled in below."""

from fastapi import APIRouter

router = APIRouter()
