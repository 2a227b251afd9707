// Helpers for Tollgate filter plugins in AssemblyScript: the request and response head the
// host lends a hook, the action a hook returns, and a small JSON reader for configs.
// Copied into each plugin by `tollgate plugin new --lang assemblyscript`.
//
// AssemblyScript has no bindings generator for components, so this file and `exports.ts`
// are the bindings, written by hand for the `filter` world of `wit/plugin.wit` and the
// canonical ABI (UTF-8 strings, memory from `cabi_realloc`). They cover the calls below;
// another host call is one `@external` declaration and a method like these.
// `tollgate plugin build` embeds the world in the module and makes it a component.

// The values a hook is called for, in the contract's order (`request-phase`,
// `response-phase`).
export enum RequestPhase {
  Authorize,
  Configure,
  Meter,
  Transform,
  Map,
}

export enum ResponsePhase {
  Map,
  Transform,
  Configure,
}

// Log levels (`log` capability).
export enum Level {
  Trace,
  Debug,
  Info,
  Warn,
  Error,
}

// A response header or any name/value pair.
export class Header {
  constructor(
    public name: string,
    public value: string,
  ) {}
}

// What a hook decided: go on, or answer the client now.
export class Action {
  constructor(
    public respond: bool,
    public status: u16 = 0,
    public headers: Array<Header> = [],
    public body: ArrayBuffer = new ArrayBuffer(0),
  ) {}
}

// Pass the request (or response) on.
export const CONTINUE = new Action(false);

// Answer the client now with `status`, a `content-type` (null: none) and `body`.
export function respond(status: u16, contentType: string | null, body: string): Action {
  const headers: Array<Header> = [];
  if (contentType !== null) headers.push(new Header("content-type", contentType));
  return new Action(true, status, headers, String.UTF8.encode(body));
}

// Answer with a JSON body (`json` is written as given).
export function respondJson(status: u16, json: string): Action {
  return respond(status, "application/json", json);
}

// The request a request hook is lent. Valid only during the hook.
export class Request {
  constructor(public handle: i32) {}

  // The method, e.g. `GET`.
  method(): string {
    requestMethod(this.handle, RET);
    return takeString(RET);
  }

  // The normalised path.
  path(): string {
    requestPath(this.handle, RET);
    return takeString(RET);
  }

  // The raw query string, without `?`, or null.
  query(): string | null {
    requestQuery(this.handle, RET);
    return takeOption(RET);
  }

  // The first value of a header (the name is case-insensitive), or null.
  header(name: string): string | null {
    const n = String.UTF8.encode(name);
    requestHeader(this.handle, ptr(n), n.byteLength, RET);
    return takeOption(RET);
  }

  // The client's IP address.
  clientIp(): string {
    requestClientIp(this.handle, RET);
    return takeString(RET);
  }

  // Sets a header sent to the integration; false when the host refuses it (a hop-by-hop
  // header, an invalid name or value).
  setHeader(name: string, value: string): bool {
    const n = String.UTF8.encode(name);
    const v = String.UTF8.encode(value);
    requestSetHeader(this.handle, ptr(n), n.byteLength, ptr(v), v.byteLength, RET);
    return takeResult(RET);
  }

  // Removes a header sent to the integration.
  removeHeader(name: string): void {
    const n = String.UTF8.encode(name);
    requestRemoveHeader(this.handle, ptr(n), n.byteLength);
  }
}

// The response head a response hook is lent. Valid only during the hook.
export class ResponseHead {
  constructor(public handle: i32) {}

  // The status code.
  status(): u16 {
    return <u16>responseStatus(this.handle);
  }

  // The first value of a header, or null.
  header(name: string): string | null {
    const n = String.UTF8.encode(name);
    responseHeader(this.handle, ptr(n), n.byteLength, RET);
    return takeOption(RET);
  }

  // Sets a header; false when refused.
  setHeader(name: string, value: string): bool {
    const n = String.UTF8.encode(name);
    const v = String.UTF8.encode(value);
    responseSetHeader(this.handle, ptr(n), n.byteLength, ptr(v), v.byteLength, RET);
    return takeResult(RET);
  }

  // Removes a header.
  removeHeader(name: string): void {
    const n = String.UTF8.encode(name);
    responseRemoveHeader(this.handle, ptr(n), n.byteLength);
  }
}

// Writes a line to the gateway's log, tagged with the plugin's name; false when the `log`
// capability is not granted.
export function log(level: Level, message: string): bool {
  const m = String.UTF8.encode(message);
  logLog(<i32>level, ptr(m), m.byteLength, RET);
  return takeResult(RET);
}

// The string value of `key` at the top level of a JSON object, or null when absent or not
// a string. A small reader for configs: it does not decode escapes.
export function jsonString(json: string, key: string): string | null {
  const quoted = '"' + key + '"';
  for (let at = json.indexOf(quoted); at >= 0; at = json.indexOf(quoted, at + 1)) {
    let i = skipSpace(json, at + quoted.length);
    if (i >= json.length || json.charAt(i) != ":") continue;
    i = skipSpace(json, i + 1);
    if (i >= json.length || json.charAt(i) != '"') return null;
    const end = json.indexOf('"', i + 1);
    return end < 0 ? null : json.substring(i + 1, end);
  }
  return null;
}

function skipSpace(s: string, i: i32): i32 {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    i++;
  }
  return i;
}

// ---- The canonical ABI of the calls above. ----

// Where the host writes a call's results: 12 bytes, 4-aligned (an option or result of a
// string: a tag byte, then pointer and length).
const RET: usize = memory.data(12, 4);

@inline
function ptr(buffer: ArrayBuffer): usize {
  return changetype<usize>(buffer);
}

// A string the host wrote at `ptr`/`len` (memory it got from `cabi_realloc`), copied into
// an AssemblyScript string and freed.
export function liftString(ptr: usize, len: usize): string {
  const s = String.UTF8.decodeUnsafe(ptr, len);
  if (len > 0) heap.free(ptr);
  return s;
}

function takeString(ret: usize): string {
  return liftString(load<u32>(ret), load<u32>(ret, 4));
}

function takeOption(ret: usize): string | null {
  return load<u8>(ret) == 0 ? null : liftString(load<u32>(ret, 4), load<u32>(ret, 8));
}

// A `result<_, string>`: true when ok; the error's string is freed.
function takeResult(ret: usize): bool {
  if (load<u8>(ret) == 0) return true;
  liftString(load<u32>(ret, 4), load<u32>(ret, 8));
  return false;
}

// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]request.method")
declare function requestMethod(self: i32, ret: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]request.path")
declare function requestPath(self: i32, ret: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]request.query")
declare function requestQuery(self: i32, ret: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]request.header")
declare function requestHeader(self: i32, name: usize, nameLen: usize, ret: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]request.client-ip")
declare function requestClientIp(self: i32, ret: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]request.set-header")
declare function requestSetHeader(
  self: i32,
  name: usize,
  nameLen: usize,
  value: usize,
  valueLen: usize,
  ret: usize,
): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]request.remove-header")
declare function requestRemoveHeader(self: i32, name: usize, nameLen: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]response-head.status")
declare function responseStatus(self: i32): i32;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]response-head.header")
declare function responseHeader(self: i32, name: usize, nameLen: usize, ret: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]response-head.set-header")
declare function responseSetHeader(
  self: i32,
  name: usize,
  nameLen: usize,
  value: usize,
  valueLen: usize,
  ret: usize,
): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[method]response-head.remove-header")
declare function responseRemoveHeader(self: i32, name: usize, nameLen: usize): void;
// @ts-ignore: decorator
@external("tollgate:plugin/log@0.1.0", "log")
declare function logLog(level: i32, message: usize, messageLen: usize, ret: usize): void;
