"""Model names and aliases → providers, built from the settings' routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import ModelRoute, Settings
from .base import Provider

DEFAULT_LOCAL = ModelRoute(name="smollm2", provider="local", aliases=["smollm2-135m-instruct"])


class UnknownModel(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class Model:
    name: str
    route: ModelRoute
    provider: Provider

    @property
    def upstream_name(self) -> str:
        return self.route.upstream_model or self.route.name


def build_provider(route: ModelRoute, settings: Settings) -> Provider:
    opts: dict[str, Any] = dict(route.options)
    if route.provider == "local":
        from .local import LocalProvider

        return LocalProvider(model_path=opts.get("model_path"), n_ctx=route.context_window or 8192)
    # The two HTTP providers take the same upstream settings.
    timeout = float(opts.get("timeout", settings.upstream_timeout))
    retries = int(opts.get("retries", settings.upstream_retries))
    backoff_base = float(opts.get("backoff_base", 0.5))
    if route.provider == "chat_completions":
        from .chat_completions import ChatCompletionsProvider

        return ChatCompletionsProvider(
            route.base_url or "http://127.0.0.1:8080/v1",
            route.api_key,
            route.upstream_model or route.name,
            context_window=route.context_window or 128000,
            json_schema_style=str(opts.get("json_schema_style", "json_schema")),
            timeout=timeout,
            retries=retries,
            backoff_base=backoff_base,
        )
    if route.provider == "openai_responses":
        from .openai_responses import OpenAIResponsesProvider

        return OpenAIResponsesProvider(
            route.base_url or "https://api.openai.com/v1",
            route.api_key,
            route.upstream_model or route.name,
            context_window=route.context_window or 400000,
            timeout=timeout,
            retries=retries,
            backoff_base=backoff_base,
        )
    if route.provider == "scripted":
        from .scripted import ScriptedProvider

        return ScriptedProvider(opts.get("script"), context_window=route.context_window or 8192, delay=float(opts.get("delay", 0)))
    raise ValueError(f"model {route.name!r}: unknown provider {route.provider!r} (local, chat_completions, openai_responses, scripted)")


class Registry:
    def __init__(self, settings: Settings) -> None:
        routes = settings.models or [DEFAULT_LOCAL]
        self.models: dict[str, Model] = {}
        self._names: dict[str, str] = {}
        for route in routes:
            self.models[route.name] = Model(route.name, route, build_provider(route, settings))
            self._names[route.name] = route.name
            for alias in route.aliases:
                self._names[alias] = route.name
        self.default = settings.default_model or routes[0].name
        if self.default not in self._names:
            raise ValueError(f"default model {self.default!r} is not among the configured models")

    def get(self, name: str | None) -> Model:
        key = self._names.get(name or self.default)
        if key is None:
            raise UnknownModel(name or "")
        return self.models[key]

    def names(self) -> list[str]:
        return list(self._names)

    async def aclose(self) -> None:
        for model in self.models.values():
            await model.provider.aclose()
