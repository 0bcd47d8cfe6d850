"""Hosted tools bound to the services that run them: file_search on the vector stores,
code_interpreter in a container."""

from __future__ import annotations

from typing import Any

from ..errors import APIError, not_found
from ..ids import new_id
from ..tools.code_interpreter import tool as code_tool
from .loop import Hosted


def hosted_tools(config: dict[str, Any] | None, *, vector_stores: Any, containers: Any, public_url: str) -> Hosted | None:
    """The hosted tools a response runs (`Prepared.hosted`, as saved) bound to the services
    that run them: `vector_stores` searches, `containers` runs code. None when it has none."""
    if not config:
        return None
    hosted = Hosted(max_calls=config.get("max_tool_calls"))
    if config.get("file_search"):
        if vector_stores is None:
            raise APIError(500, "file_search needs the vector store service, which is not running.")
        hosted.file_search, hosted.search = config["file_search"], vector_stores.search
        hosted.include_results, hosted.upfront = config["include_results"], config["upfront"]
    if config.get("code_interpreter"):
        hosted.code_interpreter = config["code_interpreter"]
        hosted.include_outputs = config["include_outputs"]
        hosted.run_code = code_runner(containers, config["code_interpreter"]["container"], export=bool(config.get("export_files")))
        base = public_url
        hosted.file_url = lambda cid, fid: f"{base}/v1/files/{fid}/content" if fid.startswith("file-") else f"{base}/v1/containers/{cid}/files/{fid}/content"
    return hosted


def code_runner(containers: Any, container: str | dict[str, Any], *, export: bool = False):  # type: ignore[no-untyped-def]
    """Run code in the tool's container; an `auto` one is made (with its files) at the
    first call of the response. An APIError's param names the container. `export` (the
    Assistants face): every file the code wrote is also copied to a File
    (`assistants_output`), whose id replaces the container file's in the run's result."""
    chosen: list[str] = [container] if isinstance(container, str) else []

    async def exported(cid: str, made: Any) -> Any:
        for f in made.images + made.files:
            _row, data = await containers.file_bytes(cid, f["id"])
            name = f["path"].rsplit("/", 1)[-1]
            obj = await containers.files.store.create(new_id("file"), filename=name, purpose="assistants_output", chunks=data)
            f["container_file_id"], f["id"], f["exported"] = f["id"], obj["id"], True
        return made

    async def run(code: str, _unused: Any = None) -> tuple[str, Any]:
        if not chosen:
            assert isinstance(container, dict)
            row = await containers.new("Container for a response", container, where="tools.container.")
            chosen.append(row["id"])
        try:
            made = await containers.run(chosen[0], code)
            return chosen[0], (await exported(chosen[0], made)) if export else made
        except APIError as exc:
            exc.param = chosen[0]
            raise

    return run


async def check_containers(containers: Any, tools: list[dict[str, Any]] | None) -> None:
    """404 naming `tools[i].container` for a code_interpreter container that does not exist,
    and the `auto` container's file ids, before anything runs."""
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict) or tool.get("type") != code_tool.NAME:
            continue
        container = tool.get("container")
        if isinstance(container, str) and container:
            await containers.row(container, f"tools[{i}].container")
        elif isinstance(container, dict):
            for j, fid in enumerate(container.get("file_ids") or []):
                if isinstance(fid, str) and await containers.files.store.get(fid) is None:
                    raise not_found(f"No such File object: {fid}", f"tools[{i}].container.file_ids[{j}]")
