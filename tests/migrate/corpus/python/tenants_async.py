"""A SaaS backend: one assistant per tenant, created on demand with the async client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from openai import AsyncOpenAI

aclient = AsyncOpenAI()


@dataclass
class Tenant:
    id: str
    name: str
    tone: str
    vector_store_id: str | None = None


_assistants: dict[str, str] = {}


async def assistant_for(tenant: Tenant) -> str:
    if tenant.id not in _assistants:
        assistant = await aclient.beta.assistants.create(  # expect: beta.assistants.create [per_tenant_assistant]
            name=f"{tenant.name} support bot",
            instructions=f"You answer {tenant.name}'s customers in a {tenant.tone} tone.",
            model="gpt-3.5-turbo-0125",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [tenant.vector_store_id]}} if tenant.vector_store_id else None,
            metadata={"tenant": tenant.id},
        )
        _assistants[tenant.id] = assistant.id
    return _assistants[tenant.id]


async def reply(tenant: Tenant, thread_id: str | None, text: str) -> tuple[str, str]:
    assistant_id = await assistant_for(tenant)
    if thread_id is None:
        thread = await aclient.beta.threads.create(metadata={"tenant": tenant.id})  # expect: beta.threads.create
        thread_id = thread.id
    await aclient.beta.threads.messages.create(thread_id, role="user", content=text)  # expect: beta.threads.messages.create
    run = await aclient.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id, poll_interval_ms=500)  # expect: beta.threads.runs.create_and_poll
    if run.status != "completed":
        return thread_id, "Sorry, something went wrong."
    page = await aclient.beta.threads.messages.list(thread_id, order="desc", limit=1)  # expect: beta.threads.messages.list
    return thread_id, page.data[0].content[0].text.value


async def migrate_all(tenants: list[Tenant]) -> None:
    for tenant in tenants:
        await aclient.beta.assistants.update(_assistants[tenant.id], model="gpt-4o-mini")  # expect: beta.assistants.update


if __name__ == "__main__":
    asyncio.run(reply(Tenant("t1", "Acme", "friendly"), None, "Hi"))
