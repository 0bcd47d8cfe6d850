"""The OpenAPI document at /openapi.json, made to tell the truth.

Routes read raw bodies (errors.read_object / validate keep OpenAI's precise 400s and
`unknown_parameter`), so FastAPI alone knows neither what they take nor what they answer.
`ROUTES` says it for every route: the request body is the pydantic model the route validates
with (or, for the routes that check keys by hand, the `openai` package's params type for the
same call), the answer is the `openai` package's model of what it returns. Errors are OpenAI's
envelope (400/404, never FastAPI's 422). A test checks every route is in the table.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from openai.types import (
    FileDeleted,
    Model,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreSearchResponse,
)
from openai.types import (
    FileObject as SDKFileObject,
)
from openai.types.beta import Assistant, AssistantDeleted, Thread, ThreadDeleted
from openai.types.beta.threads import Message, MessageDeleted, Run
from openai.types.beta.threads.runs import RunStep
from openai.types.container_create_params import ContainerCreateParams
from openai.types.container_retrieve_response import ContainerRetrieveResponse
from openai.types.containers.file_retrieve_response import FileRetrieveResponse as ContainerFile
from openai.types.conversations import (
    Conversation,
    ConversationDeletedResource,
    ConversationItem,
    ConversationItemList,
)
from openai.types.conversations.conversation_create_params import ConversationCreateParams
from openai.types.conversations.conversation_update_params import ConversationUpdateParams
from openai.types.conversations.item_create_params import ItemCreateParams
from openai.types.responses import CompactedResponse, Response, ResponseItemList
from openai.types.responses.input_token_count_response import InputTokenCountResponse
from openai.types.vector_store_create_params import VectorStoreCreateParams
from openai.types.vector_store_search_params import VectorStoreSearchParams
from openai.types.vector_store_update_params import VectorStoreUpdateParams
from openai.types.vector_stores import (
    FileContentResponse,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileDeleted,
)
from openai.types.vector_stores.file_batch_create_params import FileBatchCreateParams
from openai.types.vector_stores.file_create_params import FileCreateParams
from openai.types.vector_stores.file_update_params import FileUpdateParams
from pydantic import BaseModel, TypeAdapter, create_model

from ..assistants.params import (
    AssistantCreate,
    CreateAndRun,
    MessageParams,
    MetadataUpdate,
    RunCreate,
    SubmitToolOutputs,
    ThreadParams,
    ThreadUpdate,
)
from ..engine.files import PURPOSES
from ..engine.params import CompactRequest, CreateResponse, InputTokensRequest

ERROR_SCHEMA = {
    "type": "object",
    "description": "OpenAI's error envelope.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
ERROR_TEXT = {
    400: "A client mistake, naming the field",
    401: "The model route's upstream refused its key, or none was set",
    403: "The model route's upstream refused its key for this model",
    404: "No such object",
    409: "The object is in a state that forbids this",
    413: "Too large",
    429: "The upstream rate-limited the request (Retry-After says when to retry)",
    502: "The upstream failed",
    503: "The upstream is unreachable or overloaded",
    504: "The upstream did not answer in time",
}
# A model call failing before any output (engine/faults.py).
MODEL_FAULTS = (401, 403, 429, 502, 503, 504)


class FileObject(SDKFileObject):
    purpose: Literal[PURPOSES]  # type: ignore[valid-type]  # the SDK's FileObject omits 'evals', which uploads accept


class DeletedResponse(BaseModel):
    id: str
    object: Literal["response.deleted"]
    deleted: bool


def _page(name: str, item: Any, *, ids: bool = True) -> type[BaseModel]:
    """A list answer: `{"object": "list", "data": [...], "first_id", "last_id", "has_more"}`."""
    fields: dict[str, Any] = {"object": (Literal["list"], ...), "data": (list[item], ...)}
    if ids:
        fields |= {"first_id": (str | None, None), "last_id": (str | None, None), "has_more": (bool, ...)}
    return create_model(name, **fields)


class VectorStoreSearchPage(BaseModel):
    object: Literal["vector_store.search_results.page"]
    search_query: list[str]
    data: list[VectorStoreSearchResponse]
    has_more: bool
    next_page: str | None = None


class VectorStoreFileContentPage(BaseModel):
    object: Literal["vector_store.file_content.page"]
    data: list[FileContentResponse]
    has_more: bool
    next_page: str | None = None


VECTOR_STORE_FILES = _page("VectorStoreFileList", VectorStoreFile)
UPLOAD = {
    "type": "object",
    "required": ["file", "purpose"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The file's bytes (one part named 'file')."},
        "purpose": {"type": "string", "enum": list(PURPOSES)},
        "expires_after[anchor]": {"type": "string", "enum": ["created_at"]},
        "expires_after[seconds]": {"type": "integer", "minimum": 3600, "maximum": 2592000},
    },
}
CONTAINER_UPLOAD = {
    "type": "object",
    "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "The file's bytes (one part named 'file')."}},
}
# JSON `{"file_id": …}` copies an uploaded file in; multipart uploads bytes.
CONTAINER_FILE_JSON = {"type": "object", "required": ["file_id"], "properties": {"file_id": {"type": "string"}}, "additionalProperties": False}


class ContainerDeleted(BaseModel):
    id: str
    object: Literal["container.deleted"]
    deleted: bool


class ContainerFileDeleted(BaseModel):
    id: str
    object: Literal["container.file.deleted"]
    deleted: bool


BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}  # the type the file name implies
# The openai params types hold the path parameters too; a body never carries them.
PATH_KEYS = ("vector_store_id", "file_id", "conversation_id", "include")

# (method, path) -> (request body type or None, answer type, extra content types, extra error statuses)
Spec = tuple[Any, Any, tuple[str, ...], tuple[int, ...]]
SSE = ("text/event-stream",)
ROUTES: dict[tuple[str, str], Spec] = {
    ("POST", "/v1/responses"): (CreateResponse, Response, SSE, MODEL_FAULTS),
    ("GET", "/v1/responses/{response_id}"): (None, Response, SSE, ()),
    ("DELETE", "/v1/responses/{response_id}"): (None, DeletedResponse, (), ()),
    ("POST", "/v1/responses/{response_id}/cancel"): (None, Response, (), ()),
    ("GET", "/v1/responses/{response_id}/input_items"): (None, ResponseItemList, (), ()),
    ("POST", "/v1/responses/input_tokens"): (InputTokensRequest, InputTokenCountResponse, (), ()),
    ("POST", "/v1/responses/compact"): (CompactRequest, CompactedResponse, (), MODEL_FAULTS),
    ("GET", "/v1/models"): (None, _page("ModelList", Model, ids=False), (), ()),
    ("GET", "/v1/models/{model_id}"): (None, Model, (), ()),
    ("POST", "/v1/conversations"): (ConversationCreateParams, Conversation, (), ()),
    ("GET", "/v1/conversations/{conv_id}"): (None, Conversation, (), ()),
    ("POST", "/v1/conversations/{conv_id}"): (ConversationUpdateParams, Conversation, (), ()),
    ("DELETE", "/v1/conversations/{conv_id}"): (None, ConversationDeletedResource, (), ()),
    ("POST", "/v1/conversations/{conv_id}/items"): (ItemCreateParams, ConversationItemList, (), ()),
    ("GET", "/v1/conversations/{conv_id}/items"): (None, ConversationItemList, (), ()),
    ("GET", "/v1/conversations/{conv_id}/items/{item_id}"): (None, ConversationItem, (), ()),
    ("DELETE", "/v1/conversations/{conv_id}/items/{item_id}"): (None, Conversation, (), ()),
    ("POST", "/v1/files"): ("multipart", FileObject, (), (413,)),
    ("GET", "/v1/files"): (None, _page("FileList", FileObject), (), ()),
    ("GET", "/v1/files/{file_id}"): (None, FileObject, (), ()),
    ("DELETE", "/v1/files/{file_id}"): (None, FileDeleted, (), ()),
    ("GET", "/v1/files/{file_id}/content"): (None, "binary", (), (409,)),
    ("POST", "/v1/vector_stores"): (VectorStoreCreateParams, VectorStore, (), ()),
    ("GET", "/v1/vector_stores"): (None, _page("VectorStoreList", VectorStore), (), ()),
    ("GET", "/v1/vector_stores/{vs_id}"): (None, VectorStore, (), ()),
    ("POST", "/v1/vector_stores/{vs_id}"): (VectorStoreUpdateParams, VectorStore, (), ()),
    ("DELETE", "/v1/vector_stores/{vs_id}"): (None, VectorStoreDeleted, (), ()),
    ("POST", "/v1/vector_stores/{vs_id}/search"): (VectorStoreSearchParams, VectorStoreSearchPage, (), ()),
    ("POST", "/v1/vector_stores/{vs_id}/files"): (FileCreateParams, VectorStoreFile, (), ()),
    ("GET", "/v1/vector_stores/{vs_id}/files"): (None, VECTOR_STORE_FILES, (), ()),
    ("GET", "/v1/vector_stores/{vs_id}/files/{file_id}"): (None, VectorStoreFile, (), ()),
    ("POST", "/v1/vector_stores/{vs_id}/files/{file_id}"): (FileUpdateParams, VectorStoreFile, (), ()),
    ("DELETE", "/v1/vector_stores/{vs_id}/files/{file_id}"): (None, VectorStoreFileDeleted, (), ()),
    ("GET", "/v1/vector_stores/{vs_id}/files/{file_id}/content"): (None, VectorStoreFileContentPage, (), ()),
    ("POST", "/v1/vector_stores/{vs_id}/file_batches"): (FileBatchCreateParams, VectorStoreFileBatch, (), ()),
    ("GET", "/v1/vector_stores/{vs_id}/file_batches/{batch_id}"): (None, VectorStoreFileBatch, (), ()),
    ("POST", "/v1/vector_stores/{vs_id}/file_batches/{batch_id}/cancel"): (None, VectorStoreFileBatch, (), ()),
    ("GET", "/v1/vector_stores/{vs_id}/file_batches/{batch_id}/files"): (None, VECTOR_STORE_FILES, (), ()),
    ("POST", "/v1/assistants"): (AssistantCreate, Assistant, (), ()),
    ("GET", "/v1/assistants"): (None, _page("AssistantList", Assistant), (), ()),
    ("GET", "/v1/assistants/{assistant_id}"): (None, Assistant, (), ()),
    ("POST", "/v1/assistants/{assistant_id}"): (AssistantCreate, Assistant, (), ()),
    ("DELETE", "/v1/assistants/{assistant_id}"): (None, AssistantDeleted, (), ()),
    ("POST", "/v1/threads"): (ThreadParams, Thread, (), ()),
    ("GET", "/v1/threads/{thread_id}"): (None, Thread, (), ()),
    ("POST", "/v1/threads/{thread_id}"): (ThreadUpdate, Thread, (), ()),
    ("DELETE", "/v1/threads/{thread_id}"): (None, ThreadDeleted, (), ()),
    ("POST", "/v1/threads/{thread_id}/messages"): (MessageParams, Message, (), ()),
    ("GET", "/v1/threads/{thread_id}/messages"): (None, _page("MessageList", Message), (), ()),
    ("GET", "/v1/threads/{thread_id}/messages/{message_id}"): (None, Message, (), ()),
    ("POST", "/v1/threads/{thread_id}/messages/{message_id}"): (MetadataUpdate, Message, (), ()),
    ("DELETE", "/v1/threads/{thread_id}/messages/{message_id}"): (None, MessageDeleted, (), ()),
    ("POST", "/v1/threads/runs"): (CreateAndRun, Run, SSE, ()),
    ("POST", "/v1/threads/{thread_id}/runs"): (RunCreate, Run, SSE, ()),
    ("GET", "/v1/threads/{thread_id}/runs"): (None, _page("RunList", Run), (), ()),
    ("GET", "/v1/threads/{thread_id}/runs/{run_id}"): (None, Run, (), ()),
    ("POST", "/v1/threads/{thread_id}/runs/{run_id}"): (MetadataUpdate, Run, (), ()),
    ("POST", "/v1/threads/{thread_id}/runs/{run_id}/cancel"): (None, Run, (), ()),
    ("POST", "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"): (SubmitToolOutputs, Run, SSE, ()),
    ("GET", "/v1/threads/{thread_id}/runs/{run_id}/steps"): (None, _page("RunStepList", RunStep), (), ()),
    ("GET", "/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}"): (None, RunStep, (), ()),
    ("POST", "/v1/containers"): (ContainerCreateParams, ContainerRetrieveResponse, (), ()),
    ("GET", "/v1/containers"): (None, _page("ContainerList", ContainerRetrieveResponse), (), ()),
    ("GET", "/v1/containers/{container_id}"): (None, ContainerRetrieveResponse, (), ()),
    ("DELETE", "/v1/containers/{container_id}"): (None, ContainerDeleted, (), ()),
    ("POST", "/v1/containers/{container_id}/files"): ("container-file", ContainerFile, (), (413,)),
    ("GET", "/v1/containers/{container_id}/files"): (None, _page("ContainerFileList", ContainerFile), (), ()),
    ("GET", "/v1/containers/{container_id}/files/{file_id}"): (None, ContainerFile, (), ()),
    ("DELETE", "/v1/containers/{container_id}/files/{file_id}"): (None, ContainerFileDeleted, (), ()),
    ("GET", "/v1/containers/{container_id}/files/{file_id}/content"): (None, "binary", (), ()),
    ("GET", "/health"): (None, create_model("Health", status=(str, ...), version=(str, ...)), (), ()),
}


def _name(tp: Any) -> str:
    if tp is ConversationItem:  # a type alias (an Annotated union): no name of its own
        return "ConversationItem"
    return getattr(tp, "__name__", None) or str(tp)


def _schemas(specs: list[Spec]) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
    """Every body and answer type's schema in one pass (shared, de-duplicated components)."""
    inputs: dict[tuple[str, str], Any] = {}
    for body, answer, _extra, _errors in specs:
        if body is not None and not isinstance(body, str):
            inputs[(_name(body), "validation")] = body
        if not isinstance(answer, str):
            inputs[(_name(answer), "serialization")] = answer
    tops, schema = TypeAdapter.json_schemas(
        [(key[0], key[1], TypeAdapter(tp)) for key, tp in inputs.items()],  # type: ignore[misc]
        ref_template="#/components/schemas/{model}",
    )
    defs: dict[str, Any] = schema.get("$defs", {})
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (name, mode), schema in tops.items():
        if set(schema) == {"$ref"}:
            out[(name, mode)] = schema
            continue
        key = name if name not in defs else f"{name}{mode.title()}"
        defs[key] = schema
        out[(name, mode)] = {"$ref": f"#/components/schemas/{key}"}
    return out, defs


def _strip_path_keys(defs: dict[str, Any], ref: dict[str, Any]) -> None:
    """The openai params types also hold path and query parameters: drop them from the body."""
    schema = defs.get(ref["$ref"].rsplit("/", 1)[-1], {})
    for key in PATH_KEYS:
        schema.get("properties", {}).pop(key, None)
        if key in schema.get("required", []):
            schema["required"].remove(key)


def document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with every body, answer and error filled in from `ROUTES`."""
    doc = get_openapi(title=app.title, version=app.version, description="Onward: the OpenAI Responses API and Assistants API v2, self-hosted.", routes=app.routes)
    used = [ROUTES[(m.upper(), p)] for p, ops in doc["paths"].items() for m in ops if (m.upper(), p) in ROUTES]
    refs, defs = _schemas(used)
    defs["ErrorResponse"] = ERROR_SCHEMA
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            spec = ROUTES.get((method.upper(), path))
            if spec is None:
                continue
            body, answer, extra, errors = spec
            if body == "multipart":
                op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": UPLOAD}}}
            elif body == "container-file":
                op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": CONTAINER_UPLOAD}, "application/json": {"schema": CONTAINER_FILE_JSON}}}
            elif body is not None:
                ref = refs[(_name(body), "validation")]
                if not issubclass(body, BaseModel):
                    _strip_path_keys(defs, ref)
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
            content = BINARY if answer == "binary" else {"application/json": {"schema": refs[(_name(answer), "serialization")]}}
            for media in extra:
                content = {**content, media: {"schema": {"type": "string", "description": "Server-sent events (when `stream` is true)."}}}
            responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
            for status in (400, 404, *errors):
                responses[str(status)] = {"description": ERROR_TEXT[status], "content": {"application/json": {"schema": error_ref}}}
            op["responses"] = responses
    components = doc.setdefault("components", {})
    kept = {k: v for k, v in components.get("schemas", {}).items() if k not in ("HTTPValidationError", "ValidationError")}
    components["schemas"] = {**kept, **defs}
    return doc


def install(app: FastAPI) -> None:
    """Serve `document(app)` (built once, on the first request) at /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
