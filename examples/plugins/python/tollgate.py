"""Helpers for Tollgate plugins in Python, over the bindings componentize-py generates from
`wit/plugin.wit` (the `wit_world` package). Copied into each plugin by
`tollgate plugin new --lang python`; it only uses the `types` interface."""

import json
from typing import Any, Dict, Iterable, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import types

#: Pass the request (or response) on.
CONTINUE = types.Action_Continue()


def respond(status: int, body: bytes = b"", headers: Iterable[Tuple[str, str]] = ()) -> types.Action:
    """Answer the client now; later phases and the integration do not run."""
    return types.Action_Respond(types.Response(status=status, headers=list(headers), body=body))


def respond_json(status: int, value: Any, headers: Iterable[Tuple[str, str]] = ()) -> types.Action:
    """Answer with `value` as JSON (`content-type: application/json`)."""
    body = json.dumps(value, separators=(",", ":")).encode()
    return respond(status, body, [("content-type", "application/json"), *headers])


def config(text: str, required: Optional[Dict[str, type]] = None, defaults: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The plugin's JSON config as a dict: `required` keys must be present with their type,
    `defaults` fill in the others. A bad config raises the error `init` returns, which the
    gateway reports naming the plugin (and refuses the config)."""
    try:
        value = json.loads(text or "{}")
    except ValueError as e:
        raise Err(f"config: not JSON: {e}")
    if not isinstance(value, dict):
        raise Err("config: expected a JSON object")
    for key, kind in (required or {}).items():
        if key not in value:
            raise Err(f"config: `{key}` is required")
        if not isinstance(value[key], kind) or (kind is str and value[key] == ""):
            raise Err(f"config: `{key}` must be a non-empty {kind.__name__}")
    return {**(defaults or {}), **value}


def allow(principal: str, context: Iterable[Tuple[str, str]] = (), usage_key: Optional[str] = None) -> types.Decision:
    """An authorizer's allow, as `principal` with `context` claims."""
    return types.Decision_Allow(types.Grant(principal=principal, context=list(context), usage_key=usage_key))


#: An authorizer's deny (403).
DENY = types.Decision_Deny()
#: An authorizer's unauthorized (401).
UNAUTHORIZED = types.Decision_Unauthorized()
