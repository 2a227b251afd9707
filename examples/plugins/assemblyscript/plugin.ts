// A Tollgate filter plugin in AssemblyScript. It refuses requests without the configured
// `x-api-token` (401) and marks the others with `x-checked-by: assemblyscript`; responses
// get `x-served-by`. `tollgate.ts` has the helpers; `exports.ts` calls these three hooks.
import {
  Action,
  CONTINUE,
  jsonString,
  Request,
  RequestPhase,
  respondJson,
  ResponseHead,
  ResponsePhase,
} from "./tollgate";

let token = "";
let servedBy = "tollgate";

// Called once per instance with the plugin's JSON config: null accepts it, a message
// refuses it (the gateway names the plugin and refuses the config).
export function init(config: string): string | null {
  const given = jsonString(config, "token");
  if (given === null || given.length == 0) {
    return "config: `token` (a non-empty string) is required";
  }
  token = given;
  const name = jsonString(config, "served_by");
  if (name !== null) servedBy = name;
  return null;
}

// A request phase.
export function onRequest(phase: RequestPhase, req: Request): Action {
  const given = req.header("x-api-token");
  if (given === null || given != token) {
    return respondJson(401, '{"message":"Unauthorized"}');
  }
  req.setHeader("x-checked-by", "assemblyscript");
  return CONTINUE;
}

// A response phase.
export function onResponse(phase: ResponsePhase, resp: ResponseHead): Action {
  resp.setHeader("x-served-by", servedBy);
  return CONTINUE;
}
