"""Wiring the Assistants face onto the app's services (called from the app's lifespan)."""

from __future__ import annotations

from typing import Any

from .runs import RunService
from .runstore import RunStore
from .service import AssistantsService
from .store import AssistantStore


async def start_service(engine: Any, services: Any) -> tuple[AssistantsService, RunService]:
    conversations = services.responses.conversations  # the ConversationStore the engine writes
    runs = RunStore(engine)
    assistants = AssistantsService(AssistantStore(engine), conversations, runs, services.registry, services.vector_stores)
    run_service = RunService(services.settings, services.registry, services.responses, assistants, runs)
    assistants.before_thread_delete = run_service.cancel_active
    if services.containers is not None:
        assistants.after_thread_delete = services.containers.delete_owned
    await run_service.start()
    return assistants, run_service
