"""Threads and messages → conversations and their items; message reads → output items;
`beta.vector_stores` → `vector_stores` (the guide's Step 2 mapping, code side)."""

from __future__ import annotations

import libcst as cst

from .base import Pattern, arg, attr_chain, beta_api, code, expr, kw, others

SAME = {"threads.retrieve": "conversations.retrieve", "threads.update": "conversations.update", "threads.delete": "conversations.delete"}


def _is_content_text(node: cst.BaseExpression) -> bool:
    """`<x>.content[N].text`: an Assistants message's text object."""
    return (
        isinstance(node, cst.Attribute)
        and node.attr.value == "text"
        and isinstance(node.value, cst.Subscript)
        and isinstance(node.value.value, cst.Attribute)
        and node.value.value.attr.value == "content"
    )


class Threads(Pattern):
    name = "threads-messages"

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        found = beta_api(original_node.func)
        if not found:
            return updated_node
        client, api = found
        if api.startswith("vector_stores"):
            self.done(original_node, "beta.vector_stores → vector_stores")
            return updated_node.with_changes(func=attr_chain(client, api))
        if api in SAME:
            self.done(original_node, f"{api} → {SAME[api]}")
            return updated_node.with_changes(func=attr_chain(client, SAME[api]))
        if api == "threads.create":
            return self._create(original_node, updated_node, client)
        if api == "threads.messages.create":
            return self._message(original_node, updated_node, client)
        if api == "threads.messages.list":
            return self._list(original_node, updated_node, client)
        return updated_node

    def _create(self, original: cst.Call, call: cst.Call, client):
        if arg(call, "tool_resources") is not None:
            self.todo(original, "threads.create(tool_resources=…): conversations have no tool_resources; send the file_search tool with vector_store_ids on every responses.create")
            return call
        messages = arg(call, "messages")
        if messages is not None and not isinstance(messages.value, cst.List):
            self.todo(original, "threads.create(messages=…) is not a literal list: pass the messages as items=[{'type': 'message', 'role', 'content'}]")
            return call
        if messages is not None and "attachments" in code(messages.value):
            self.todo(original, "message attachments: upload the files into a vector store (client.vector_stores.create(file_ids=…)) and give its id to the file_search tool")
            return call
        args = others(call, "messages")
        if messages is not None:
            args.insert(0, kw("items", messages.value))
        self.done(original, "threads.create → conversations.create")
        return call.with_changes(func=attr_chain(client, "conversations.create"), args=args)

    def _message(self, original: cst.Call, call: cst.Call, client):
        thread = arg(call, "thread_id", 0)
        role = arg(call, "role")
        content = arg(call, "content")
        extra = others(call, "thread_id", "role", "content", positional=1)
        if thread is None or role is None or content is None or extra:
            self.todo(original, "messages.create with attachments or metadata: add the item with conversations.items.create (files go to a vector store on the file_search tool)")
            return call
        item = expr(f'[{{"type": "message", "role": {code(role.value)}, "content": {code(content.value)}}}]')
        self.done(original, "threads.messages.create → conversations.items.create")
        return call.with_changes(func=attr_chain(client, "conversations.items.create"), args=[kw("conversation_id", thread.value), kw("items", item)])

    def _list(self, original: cst.Call, call: cst.Call, client):
        thread = arg(call, "thread_id", 0)
        if thread is None or arg(call, "run_id") is not None or arg(call, "before") is not None:
            self.todo(original, "messages.list by run_id/before: read the response's output (response.output_text, response.output) instead")
            return call
        rest = others(call, "thread_id", positional=1)
        self.done(original, "threads.messages.list → conversations.items.list (items: messages, function calls and their outputs)")
        return call.with_changes(func=attr_chain(client, "conversations.items.list"), args=[kw("conversation_id", thread.value), *rest])

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute):
        # message.content[0].text.value → item.content[0].text (output_text parts hold a string)
        if updated_node.attr.value == "value" and _is_content_text(updated_node.value):
            return updated_node.value
        # content[0].text.annotations → content[0].annotations; file_citation.file_id → file_id
        if updated_node.attr.value == "annotations" and _is_content_text(updated_node.value):
            return updated_node.with_changes(value=updated_node.value.value)  # type: ignore[attr-defined]
        if updated_node.attr.value in ("file_id", "quote") and isinstance(updated_node.value, cst.Attribute) and updated_node.value.attr.value == "file_citation":
            return updated_node.with_changes(value=updated_node.value.value)
        return updated_node
