// Every call tollgate.ts binds, for tests/all/plugin_project.rs: the request's values are
// sent on in `x-seen`, the response's in `x-status`; `/teapot` is answered here.
import {
  Action,
  CONTINUE,
  Header,
  jsonString,
  Level,
  log,
  Request,
  RequestPhase,
  respond,
  ResponseHead,
  ResponsePhase,
} from "./tollgate";

let greeting = "";

export function init(config: string): string | null {
  const given = jsonString(config, "greeting");
  if (given === null) return "config: `greeting` is required";
  greeting = given;
  return null;
}

export function onRequest(phase: RequestPhase, req: Request): Action {
  if (req.path() == "/teapot") {
    const answer = respond(418, "text/plain; charset=utf-8", greeting);
    answer.headers.push(new Header("x-pot", "short"));
    return answer;
  }
  const query = req.query();
  const given = req.header("x-in");
  const seen = [
    req.method(),
    req.path(),
    query === null ? "-" : query,
    req.clientIp(),
    given === null ? "none" : given,
    phase == RequestPhase.Transform ? "transform" : "other",
  ];
  req.setHeader("x-seen", seen.join(" "));
  req.removeHeader("x-drop");
  req.setHeader("x-refused", req.setHeader("connection", "close") ? "no" : "yes");
  req.setHeader("x-logged", log(Level.Info, "seen " + req.path()) ? "yes" : "no");
  return CONTINUE;
}

export function onResponse(phase: ResponsePhase, resp: ResponseHead): Action {
  const upstream = resp.header("x-upstream");
  const status = resp.status().toString();
  resp.setHeader("x-status", status + " " + (upstream === null ? "none" : upstream));
  resp.removeHeader("x-secret");
  return CONTINUE;
}
