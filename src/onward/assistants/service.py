"""Assistants, threads and messages: stored settings, and conversations seen as threads."""

from __future__ import annotations

import time
from typing import Any

from ..errors import APIError, invalid, not_found
from ..ids import new_id
from ..providers.registry import Registry, UnknownModel
from ..store.conversations import ConversationStore
from .objects import message_item, message_object
from .paging import page
from .params import AssistantCreate, MessageParams, ThreadParams, ThreadUpdate
from .runstore import RunStore
from .store import AssistantStore

THREAD_STORE_DAYS = 7  # a thread's own vector store (for attachments) expires this long after last use


def no_thread(thread_id: str) -> APIError:
    return not_found(f"No thread found with id '{thread_id}'.", "thread_id")


class AssistantsService:
    def __init__(self, store: AssistantStore, conversations: ConversationStore, runs: RunStore, registry: Registry, vector_stores: Any = None) -> None:
        self.store = store
        self.conversations = conversations
        self.runs = runs
        self.registry = registry
        self.vector_stores = vector_stores
        self.before_thread_delete: Any = None  # set by the run service: cancels an active run
        self.after_thread_delete: Any = None  # set at boot: deletes the thread's container

    # -- assistants -------------------------------------------------------------------
    def check_model(self, name: str) -> None:
        try:
            self.registry.get(name)
        except UnknownModel as exc:
            raise self.registry.not_found(exc) from exc

    async def create_assistant(self, params: AssistantCreate) -> dict[str, Any]:
        if not params.model:
            raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        self.check_model(params.model)
        body = {
            "id": new_id("asst"),
            "object": "assistant",
            "created_at": int(time.time()),
            "name": params.name,
            "description": params.description,
            "model": params.model,
            "instructions": params.instructions,
            "tools": params.tools or [],
            "tool_resources": await self.tool_resources(params.tool_resources or {}),
            "metadata": params.metadata or {},
            "top_p": params.top_p if params.top_p is not None else 1.0,
            "temperature": params.temperature if params.temperature is not None else 1.0,
            "response_format": params.response_format or "auto",
            "reasoning_effort": params.reasoning_effort,
        }
        await self.store.create_assistant(body)
        return body

    async def get_assistant(self, assistant_id: str) -> dict[str, Any]:
        body = await self.store.get_assistant(assistant_id)
        if body is None:
            raise not_found(f"No assistant found with id '{assistant_id}'.", "assistant_id")
        return body

    async def update_assistant(self, assistant_id: str, params: AssistantCreate) -> dict[str, Any]:
        body = await self.get_assistant(assistant_id)
        for key in params.model_fields_set:
            value = getattr(params, key)
            if key == "model":
                if not value:
                    raise invalid("'model' cannot be empty.", "model")
                self.check_model(value)
            elif key == "tool_resources":
                value = await self.tool_resources(value or {})
            elif key == "tools":
                value = value or []
            elif key == "metadata":
                value = value or {}
            elif key in ("temperature", "top_p") and value is None:
                value = 1.0
            elif key == "response_format":
                value = value or "auto"
            body[key] = value
        await self.store.save_assistant(body)
        return body

    async def delete_assistant(self, assistant_id: str) -> dict[str, Any]:
        if not await self.store.delete_assistant(assistant_id):
            raise not_found(f"No assistant found with id '{assistant_id}'.", "assistant_id")
        return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}

    async def list_assistants(self, **paging: Any) -> dict[str, Any]:
        return page(*await self.store.list_assistants(**paging))

    # -- tool_resources ---------------------------------------------------------------
    async def tool_resources(self, raw: dict[str, Any], param: str = "tool_resources") -> dict[str, Any]:
        """The stored form: `vector_stores` helpers become real vector stores."""
        out: dict[str, Any] = {}
        ci = raw.get("code_interpreter")
        if ci is not None:
            out["code_interpreter"] = {"file_ids": list(ci.get("file_ids") or [])}
        fs = raw.get("file_search")
        if fs is not None:
            ids = list(fs.get("vector_store_ids") or [])
            for spec in fs.get("vector_stores") or []:
                if self.vector_stores is None:
                    raise APIError(400, "Vector stores are not available on this server.", param=f"{param}.file_search.vector_stores")
                create = {k: v for k, v in (spec or {}).items() if k in ("file_ids", "chunking_strategy", "metadata")}
                ids.append((await self.vector_stores.create(create))["id"])
            for vs_id in ids:
                if self.vector_stores is not None:
                    try:
                        await self.vector_stores.get(vs_id)
                    except APIError as exc:
                        raise invalid(f"Vector store '{vs_id}' not found.", f"{param}.file_search.vector_store_ids") from exc
            out["file_search"] = {"vector_store_ids": ids}
        return out

    # -- threads ----------------------------------------------------------------------
    def _thread(self, conv: dict[str, Any], tool_resources: dict[str, Any]) -> dict[str, Any]:
        return {"id": conv["id"], "object": "thread", "created_at": conv["created_at"], "metadata": conv["metadata"], "tool_resources": tool_resources}

    async def create_thread(self, params: ThreadParams | None) -> dict[str, Any]:
        params = params or ThreadParams()
        thread_id = new_id("thread")
        resources = await self.tool_resources(params.tool_resources or {})
        items, fields = [], []
        for i, msg in enumerate(params.messages or []):
            item = message_item(msg.role, msg.content, f"messages[{i}].content")
            items.append(item)
            fields.append({"message_id": item["id"], "attachments": await self._attachments(thread_id, resources, msg, f"messages[{i}].attachments"), "metadata": msg.metadata or {}})
        conv = await self.conversations.create(thread_id, params.metadata or {}, items)
        await self.store.add_message_fields(thread_id, fields)
        if resources:
            await self.store.set_tool_resources(thread_id, resources)
        return self._thread(conv, resources)

    async def get_thread(self, thread_id: str) -> dict[str, Any]:
        conv = await self.conversations.get(thread_id)
        if conv is None:
            raise no_thread(thread_id)
        return self._thread(conv, await self.store.get_tool_resources(thread_id))

    async def update_thread(self, thread_id: str, params: ThreadUpdate) -> dict[str, Any]:
        thread = await self.get_thread(thread_id)
        if "metadata" in params.model_fields_set:
            await self.conversations.update_metadata(thread_id, params.metadata or {})
        if "tool_resources" in params.model_fields_set:
            resources = await self.tool_resources(params.tool_resources or {})
            merged = {**thread["tool_resources"], **resources}
            await self.store.set_tool_resources(thread_id, merged)
        return await self.get_thread(thread_id)

    async def delete_thread(self, thread_id: str) -> dict[str, Any]:
        if self.before_thread_delete is not None:
            await self.before_thread_delete(thread_id)
        if not await self.conversations.delete(thread_id):
            raise no_thread(thread_id)
        await self.store.forget_thread(thread_id)
        if self.after_thread_delete is not None:
            await self.after_thread_delete(thread_id)
        return {"id": thread_id, "object": "thread.deleted", "deleted": True}

    # -- messages ---------------------------------------------------------------------
    async def _attachments(self, thread_id: str, resources: dict[str, Any], msg: MessageParams, param: str) -> list[dict[str, Any]]:
        out = []
        for j, att in enumerate(msg.attachments or []):
            if not isinstance(att, dict) or not isinstance(att.get("file_id"), str):
                raise invalid(f"Missing required parameter: '{param}[{j}].file_id'.", f"{param}[{j}].file_id", "missing_required_parameter")
            tools = att.get("tools") or []
            for k, tool in enumerate(tools):
                if not isinstance(tool, dict) or tool.get("type") not in ("file_search", "code_interpreter"):
                    raise invalid(f"Invalid value for '{param}[{j}].tools[{k}].type'. Supported values are: 'code_interpreter' and 'file_search'.", f"{param}[{j}].tools[{k}].type")
            out.append({"file_id": att["file_id"], "tools": [{"type": t["type"]} for t in tools]})
        await self.attach_files(thread_id, resources, out)
        return out

    async def attach_files(self, thread_id: str, resources: dict[str, Any], attachments: list[dict[str, Any]]) -> None:
        """file_search attachments join the thread's own vector store (created on demand);
        code_interpreter ones join the thread's `code_interpreter.file_ids` (copied into its
        container when a run uses the tool)."""
        code_ids = [a["file_id"] for a in attachments if any(t["type"] == "code_interpreter" for t in a["tools"])]
        if code_ids:
            ci = resources.setdefault("code_interpreter", {"file_ids": []})
            ci["file_ids"] = list(dict.fromkeys([*(ci.get("file_ids") or []), *code_ids]))
            await self.store.set_tool_resources(thread_id, resources)
        file_ids = [a["file_id"] for a in attachments if any(t["type"] == "file_search" for t in a["tools"])]
        if not file_ids or self.vector_stores is None:
            return
        fs = resources.setdefault("file_search", {"vector_store_ids": []})
        ids = fs.setdefault("vector_store_ids", [])
        if ids:
            vs_id = ids[0]
        else:
            created = await self.vector_stores.create({"name": f"thread {thread_id}", "expires_after": {"anchor": "last_active_at", "days": THREAD_STORE_DAYS}})
            vs_id = created["id"]
            ids.append(vs_id)
        for file_id in file_ids:
            try:
                await self.vector_stores.create_file(vs_id, {"file_id": file_id})
            except APIError as exc:
                if exc.status == 404:
                    raise invalid(f"No file found with id '{file_id}'.", "attachments") from exc
                if "already" not in exc.message:
                    raise
        await self.store.set_tool_resources(thread_id, resources)

    async def create_message(self, thread_id: str, params: MessageParams, *, check_lock: bool = True, run_id: str | None = None) -> dict[str, Any]:
        if params.attachments:
            resources = (await self.get_thread(thread_id))["tool_resources"]
        elif await self.conversations.get(thread_id) is None:  # (its tool_resources are not needed)
            raise no_thread(thread_id)
        else:
            resources = {}
        if check_lock:
            active = await self.runs.active_run(thread_id)
            if active:
                raise invalid(f"Can't add messages to {thread_id} while a run {active} is active.", None, None)
        item = message_item(params.role, params.content)
        attachments = await self._attachments(thread_id, resources, params, "attachments")
        if not await self.conversations.append(thread_id, [item]):
            raise no_thread(thread_id)
        await self.store.add_message_fields(thread_id, [{"message_id": item["id"], "attachments": attachments, "metadata": params.metadata or {}, "run_id": run_id}])
        return await self.get_message(thread_id, item["id"])

    async def get_message(self, thread_id: str, message_id: str) -> dict[str, Any]:
        row = await self.store.get_message(thread_id, message_id)
        if row is None:
            await self.get_thread(thread_id)
            raise not_found(f"No message found with id '{message_id}'.", "message_id")
        return message_object(thread_id, row)

    async def update_message(self, thread_id: str, message_id: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        await self.get_message(thread_id, message_id)
        await self.store.set_message_metadata(thread_id, message_id, metadata or {})
        return await self.get_message(thread_id, message_id)

    async def delete_message(self, thread_id: str, message_id: str) -> dict[str, Any]:
        await self.get_message(thread_id, message_id)
        await self.conversations.delete_item(thread_id, message_id)
        await self.store.forget_message(thread_id, message_id)
        return {"id": message_id, "object": "thread.message.deleted", "deleted": True}

    async def list_messages(self, thread_id: str, *, run_id: str | None = None, **paging: Any) -> dict[str, Any]:
        await self.get_thread(thread_id)
        rows, more = await self.store.list_messages(thread_id, run_id=run_id, **paging)
        return page([message_object(thread_id, r) for r in rows], more)
