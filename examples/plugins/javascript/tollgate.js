// @ts-check
// Helpers for Tollgate plugins in JavaScript, over the contract componentize-js builds
// from `wit/plugin.wit`. Copied into each plugin by `tollgate plugin new --lang javascript`.
//
// The contract in JavaScript: exports are the world's functions in camelCase (`init`,
// `onRequest`, `onResponse`, `authorize`, `handle`, `selectRoute`); enums are strings
// ("authorize", …); `req` and `resp` are borrowed handles whose methods are camelCase
// (`req.header(name)` gives a string or undefined); a WIT `result` error is thrown.
// `npm run types` writes the contract's TypeScript declarations into `types/`; `npm run
// check` checks this file and the plugin against them.

/** @typedef {import("tollgate:plugin/types@0.1.0").Action} Action */
/** @typedef {import("tollgate:plugin/types@0.1.0").Response} Response */
/** @typedef {import("tollgate:plugin/types@0.1.0").Decision} Decision */
/** @typedef {import("tollgate:plugin/types@0.1.0").Request} Request */
/** @typedef {import("tollgate:plugin/types@0.1.0").ResponseHead} ResponseHead */
/** @typedef {import("tollgate:plugin/types@0.1.0").RequestPhase} RequestPhase */
/** @typedef {import("tollgate:plugin/types@0.1.0").ResponsePhase} ResponsePhase */
/** @typedef {Array<[string, string]>} Headers */

/** Pass the request (or response) on. @type {Action} */
export const CONTINUE = { tag: "continue" };

const encoder = new TextEncoder();

/**
 * Answer the client now.
 * @param {number} status
 * @param {string | Uint8Array} [body]
 * @param {Headers} [headers]
 * @returns {Action}
 */
export function respond(status, body = "", headers = []) {
  return { tag: "respond", val: response(status, body, headers) };
}

/**
 * Answer with `value` as JSON.
 * @param {number} status
 * @param {unknown} value
 * @param {Headers} [headers]
 * @returns {Action}
 */
export function respondJson(status, value, headers = []) {
  return respond(status, JSON.stringify(value), [["content-type", "application/json"], ...headers]);
}

/**
 * A function's response (the `function` world's `handle` returns it).
 * @param {number} status
 * @param {string | Uint8Array} [body]
 * @param {Headers} [headers]
 * @returns {Response}
 */
export function response(status, body = "", headers = []) {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return { status, headers, body: bytes };
}

/**
 * The plugin's JSON config as an object: `required` maps keys to their `typeof`, `defaults`
 * fills in the others. A bad config throws the message `init` reports: the gateway names
 * the plugin and refuses the config.
 * @template {Record<string, unknown>} T
 * @param {string} text
 * @param {{ required?: Record<string, string>, defaults?: T }} [spec]
 * @returns {T & Record<string, any>}
 */
export function parseConfig(text, spec = {}) {
  const { required = {}, defaults } = spec;
  let value;
  try {
    value = JSON.parse(text || "{}");
  } catch (e) {
    throw `config: not JSON: ${e}`;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw "config: expected a JSON object";
  }
  for (const [key, type] of Object.entries(required)) {
    if (!(key in value)) throw `config: \`${key}\` is required`;
    if (typeof value[key] !== type || value[key] === "") {
      throw `config: \`${key}\` must be a non-empty ${type}`;
    }
  }
  return { ...defaults, ...value };
}

/**
 * An authorizer's allow, as `principal` with `context` claims.
 * @param {string} principal
 * @param {Headers} [context]
 * @param {string} [usageKey] the key usage plans meter this caller by, when not the principal
 * @returns {Decision}
 */
export function allow(principal, context = [], usageKey = undefined) {
  return { tag: "allow", val: { principal, context, usageKey } };
}

/** An authorizer's deny (403). @type {Decision} */
export const DENY = { tag: "deny" };

/** An authorizer's unauthorized (401). @type {Decision} */
export const UNAUTHORIZED = { tag: "unauthorized" };
