"""Model names and aliases → providers, built from the settings' routes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..config import ModelRoute, Settings
from ..errors import APIError
from .base import Provider

log = logging.getLogger("onward.models")

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


def _models_file(settings: Settings) -> str:
    return settings.models_file.name if settings.models_file else "the models file"


def unset_key_variable(route: ModelRoute) -> str | None:
    """The environment variable a route's `api_key = "env:NAME"` names, when it is not set."""
    setting = route.api_key_setting
    if setting and setting.startswith("env:") and route.api_key is None:
        return setting[4:]
    return None


def auth_hint(route: ModelRoute, settings: Settings) -> str:
    """What an upstream 401/403 means for this route, naming the setting to fix."""
    where = f"api_key in {_models_file(settings)}"
    setting = route.api_key_setting
    if unset_key_variable(route):
        return f"model route '{route.name}': no key was sent, because {setting[4:]} is not set ({setting}, {where})"  # type: ignore[index]
    if setting and setting.startswith("env:"):
        return f"model route '{route.name}': the upstream refused the key from {setting} ({where})"
    if setting:
        return f"model route '{route.name}': the upstream refused the key given as {where}"
    return f"model route '{route.name}': the upstream wants a key and the route has none (set {where})"


def build_provider(route: ModelRoute, settings: Settings) -> Provider:
    opts: dict[str, Any] = dict(route.options)
    if route.provider == "local":
        from .local import LocalProvider

        return LocalProvider(model_path=opts.get("model_path"), n_ctx=route.context_window or 8192)
    # The two HTTP providers take the same upstream settings.
    timeout = float(opts.get("timeout", settings.upstream_timeout))
    retries = int(opts.get("retries", settings.upstream_retries))
    backoff_base = float(opts.get("backoff_base", 0.5))
    connections = int(opts.get("connections", settings.upstream_connections))
    if route.provider == "chat_completions":
        from .chat_completions import ChatCompletionsProvider

        return ChatCompletionsProvider(
            route.base_url or "http://127.0.0.1:8080/v1",
            route.api_key,
            route.upstream_model or route.name,
            context_window=route.context_window or 128000,
            json_schema_style=str(opts.get("json_schema_style", "json_schema")),
            supports_logprobs=bool(opts.get("logprobs", True)),
            timeout=timeout,
            retries=retries,
            backoff_base=backoff_base,
            auth_hint=auth_hint(route, settings),
            connections=connections,
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
            auth_hint=auth_hint(route, settings),
            connections=connections,
        )
    if route.provider == "scripted":
        from .scripted import ScriptedProvider

        return ScriptedProvider(opts.get("script"), context_window=route.context_window or 8192, delay=float(opts.get("delay", 0)))
    raise ValueError(f"model {route.name!r}: unknown provider {route.provider!r} (local, chat_completions, openai_responses, scripted)")


class Registry:
    """Model names a client may send → the route serving them.

    With no models file every name is served by the embedded default, so code that names
    `gpt-4o` runs unchanged; with a models file, names no route lists are unknown unless the
    file sets `fallback = "<route>"`. Each name served that way is logged once.
    """

    MAX_LOGGED_NAMES = 1000  # a client inventing names must not grow the log memory forever

    def __init__(self, settings: Settings) -> None:
        routes = settings.models or [DEFAULT_LOCAL]
        self.models: dict[str, Model] = {}
        self._names: dict[str, str] = {}
        for route in routes:
            variable = unset_key_variable(route)
            if variable:
                log.warning(
                    "model route '%s': api_key = \"env:%s\" in %s, but %s is not set: its requests go out without a key",
                    route.name, variable, _models_file(settings), variable,
                )
            self.models[route.name] = Model(route.name, route, build_provider(route, settings))
            self._names[route.name] = route.name
            for alias in route.aliases:
                self._names[alias] = route.name
        self.default = settings.default_model or routes[0].name
        if self.default not in self._names:
            raise ValueError(f"default model {self.default!r} is not among the configured models")
        self.zero_config = not settings.models
        fallback = self.default if self.zero_config else settings.fallback_model
        if fallback is not None and fallback not in self._names:
            raise ValueError(f"fallback model {fallback!r} is not among the configured models ({', '.join(self._names)})")
        self.fallback = self._names[fallback] if fallback is not None else None
        self._logged: set[str] = set()

    def get(self, name: str | None) -> Model:
        """The model serving `name` (None: the default). Raises UnknownModel for a name no
        route lists when there is no fallback."""
        key = self._names.get(name or self.default)
        if key is None:
            if self.fallback is None or not name:  # (no name means the default, always listed)
                raise UnknownModel(name or "")
            key = self.fallback
            self._log_fallback(name, key)
        return self.models[key]

    def _log_fallback(self, name: str, key: str) -> None:
        if name in self._logged or len(self._logged) >= self.MAX_LOGGED_NAMES:
            return
        self._logged.add(name)
        why = "no models file" if self.zero_config else "the models file's fallback"
        log.info("model %r is served by %s (%s)", name, key, why)

    def names(self) -> list[str]:
        """The configured names and aliases (what /v1/models lists)."""
        return list(self._names)

    def not_found(self, exc: UnknownModel) -> APIError:
        """404 `model_not_found`, OpenAI's answer for a model name it does not serve."""
        return APIError(
            404,
            f"The model '{exc.name}' does not exist or you do not have access to it. Available models: {', '.join(self._names)}.",
            param="model",
            code="model_not_found",
        )

    async def aclose(self) -> None:
        for model in self.models.values():
            await model.provider.aclose()
