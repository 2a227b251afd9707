// Helpers for Tollgate plugins in JavaScript, over the contract componentize-js builds
// from `wit/plugin.wit`. Copied into each plugin by `tollgate plugin new --lang javascript`.
//
// The contract in JavaScript: exports are the world's functions in camelCase (`init`,
// `onRequest`, `onResponse`, `authorize`, `handle`, `selectRoute`); enums are strings
// ("authorize", …); `req` and `resp` are borrowed handles whose methods are camelCase
// (`req.header(name)` gives a string or undefined); a WIT `result` error is thrown.

/** Pass the request (or response) on. */
export const CONTINUE = { tag: "continue" };

const encoder = new TextEncoder();

/** Answer the client now: `body` is a string or a Uint8Array, `headers` [name, value] pairs. */
export function respond(status, body = "", headers = []) {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  return { tag: "respond", val: { status, headers, body: bytes } };
}

/** Answer with `value` as JSON. */
export function respondJson(status, value, headers = []) {
  return respond(status, JSON.stringify(value), [["content-type", "application/json"], ...headers]);
}

/** A function's response (the `function` world's `handle` returns it). */
export function response(status, body = "", headers = []) {
  return respond(status, body, headers).val;
}

/**
 * The plugin's JSON config as an object: `required` maps keys to their `typeof`, `defaults`
 * fills in the others. A bad config throws the message `init` reports: the gateway names
 * the plugin and refuses the config.
 */
export function parseConfig(text, { required = {}, defaults = {} } = {}) {
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

/** An authorizer's allow, as `principal` with `context` claims ([key, value] pairs). */
export function allow(principal, context = [], usageKey = undefined) {
  return { tag: "allow", val: { principal, context, usageKey } };
}

/** An authorizer's deny (403). */
export const DENY = { tag: "deny" };

/** An authorizer's unauthorized (401). */
export const UNAUTHORIZED = { tag: "unauthorized" };
