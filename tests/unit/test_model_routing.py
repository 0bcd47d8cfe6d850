"""Model names → routes without a server: zero configuration, fallback, and the checks at start;
request ids as the access log picks them."""

from __future__ import annotations

import logging

import pytest

from onward.api.access_log import request_id
from onward.config import ModelRoute, Settings
from onward.providers.registry import Registry, UnknownModel


def settings(**kw) -> Settings:
    return Settings(database_url="sqlite:///:memory:", **kw)


def scripted(name: str, *aliases: str) -> ModelRoute:
    return ModelRoute(name=name, provider="scripted", aliases=list(aliases), options={"script": [{"text": "hi"}]})


def test_zero_configuration_serves_every_name_and_logs_it_once(caplog):
    registry = Registry(settings())
    caplog.set_level(logging.INFO, logger="onward.models")
    assert registry.get("gpt-4o").name == registry.get("gpt-4o").name == "smollm2"
    assert registry.get(None).name == registry.get("").name == "smollm2"
    assert [r.getMessage() for r in caplog.records] == ["model 'gpt-4o' is served by smollm2 (no models file)"]
    assert registry.names() == ["smollm2", "smollm2-135m-instruct"]


def test_models_file_names_only_unless_fallback():
    registry = Registry(settings(models=[scripted("a", "gpt-4o-mini"), scripted("b")]))
    assert registry.get("gpt-4o-mini").name == "a"
    with pytest.raises(UnknownModel) as exc:
        registry.get("gpt-4o")
    err = registry.not_found(exc.value)
    assert (err.status, err.code, err.param) == (404, "model_not_found", "model") and "a, gpt-4o-mini, b" in err.message
    fallback = Registry(settings(models=[scripted("a", "gpt-4o-mini"), scripted("b")], fallback_model="b"))
    assert fallback.get("gpt-4o").name == "b"


def test_models_file_checks_default_and_fallback(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text('fallback = "smol"\n[models.smollm2]\nprovider = "local"\naliases = ["smol"]\n')
    s = settings()
    s.load_models(path)
    assert s.fallback_model == "smol"
    for head in ('fallback = "nope"', 'default = "nope"', "fallback = 3"):
        path.write_text(head + '\n[models.smollm2]\nprovider = "local"\n')
        with pytest.raises(ValueError, match="nope|fallback"):
            settings().load_models(path)


def test_request_id_keeps_a_plain_one_and_replaces_the_rest():
    assert request_id([(b"x-request-id", b"trace-42.a:b/c")]) == b"trace-42.a:b/c"
    for bad in (b"", b"a b", b"x\r\nSet-Cookie: 1", b"x" * 129):
        got = request_id([(b"x-request-id", bad)])
        assert got.startswith(b"req_") and len(got) == 36
    assert request_id([]) != request_id([])
