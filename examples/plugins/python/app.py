# A Tollgate filter plugin in Python (componentize-py). It implements the `filter` world of
# `wit/plugin.wit`: the host calls `init` once per instance with the plugin's JSON config,
# `on_request` in each request phase it is attached to, `on_response` in each response phase.
#
# It refuses requests without the configured `x-api-token` (401) and marks the others with
# `x-checked-by: python`; responses get `x-served-by`.

import wit_world
from wit_world.imports import types

import tollgate


class WitWorld(wit_world.WitWorld):
    def init(self, config: str) -> None:
        global settings
        settings = tollgate.config(config, required={"token": str}, defaults={"served_by": "tollgate"})

    def on_request(self, phase: types.RequestPhase, req: types.Request) -> types.Action:
        if req.header("x-api-token") != settings["token"]:
            return tollgate.respond_json(401, {"message": "Unauthorized"})
        req.set_header("x-checked-by", "python")
        return tollgate.CONTINUE

    def on_response(self, phase: types.ResponsePhase, resp: types.ResponseHead) -> types.Action:
        resp.set_header("x-served-by", settings["served_by"])
        return tollgate.CONTINUE


settings: dict = {}
