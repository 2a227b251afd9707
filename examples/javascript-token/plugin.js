// A filter plugin in JavaScript (componentize-js). It implements the `filter` world of
// `sdk/wit/plugin.wit`: the host calls `init` once per instance with the plugin's JSON
// config, `onRequest` in each request phase it is attached to, and `onResponse` in each
// response phase.
//
// Request: refuse requests without the configured `x-api-token` (401), and mark the others
// with `x-checked-by: javascript`. Response: add `x-served-by`.

let config = { token: "", served_by: "tollgate" };

export function init(text) {
  const parsed = JSON.parse(text || "{}");
  if (typeof parsed.token !== "string" || parsed.token === "") {
    // An error rejects the gateway config at load, naming the plugin.
    throw "config: `token` (a non-empty string) is required";
  }
  config = { ...config, ...parsed };
}

// `phase` is a string ("authorize", "configure", "meter", "transform", "map"); `req` is the
// borrowed request: header(name) is a string or undefined, setHeader(name, value).
export function onRequest(phase, req) {
  if (req.header("x-api-token") !== config.token) {
    return {
      tag: "respond",
      val: {
        status: 401,
        headers: [["content-type", "application/json"]],
        body: new TextEncoder().encode('{"message":"Unauthorized"}'),
      },
    };
  }
  req.setHeader("x-checked-by", "javascript");
  return { tag: "continue" };
}

export function onResponse(phase, resp) {
  resp.setHeader("x-served-by", config.served_by);
  return { tag: "continue" };
}
