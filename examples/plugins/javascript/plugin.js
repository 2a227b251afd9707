// @ts-check
// A Tollgate filter plugin in JavaScript (componentize-js). It implements the `filter`
// world of `wit/plugin.wit`: the host calls `init` once per instance with the plugin's JSON
// config, `onRequest` in each request phase it is attached to, `onResponse` in each
// response phase.
//
// It refuses requests without the configured `x-api-token` (401) and marks the others with
// `x-checked-by: javascript`; responses get `x-served-by`.

import { CONTINUE, parseConfig, respondJson } from "./tollgate.js";

/** @typedef {import("./tollgate.js").Action} Action */

let config = { token: "", served_by: "tollgate" };

/** @param {string} text */
export function init(text) {
  config = parseConfig(text, { required: { token: "string" }, defaults: config });
}

/**
 * @param {import("./tollgate.js").RequestPhase} phase
 * @param {import("./tollgate.js").Request} req
 * @returns {Action}
 */
export function onRequest(phase, req) {
  if (req.header("x-api-token") !== config.token) {
    return respondJson(401, { message: "Unauthorized" });
  }
  req.setHeader("x-checked-by", "javascript");
  return CONTINUE;
}

/**
 * @param {import("./tollgate.js").ResponsePhase} phase
 * @param {import("./tollgate.js").ResponseHead} resp
 * @returns {Action}
 */
export function onResponse(phase, resp) {
  resp.setHeader("x-served-by", config.served_by);
  return CONTINUE;
}
