// The component's exports for an AssemblyScript filter (the `filter` world of
// `wit/plugin.wit` in the canonical ABI): each calls your hook in `plugin.ts`, then drops
// the handle the host lent the call (a borrowed handle left undropped fails the call with
// "borrow handles still remain at the end of the call"). This is the build's entry file.
// AssemblyScript cannot export a name with `-`: `tollgate plugin build` renames
// `on_request` to `on-request` (and so on) when it makes the component.
import { Action, liftString, Request, ResponseHead } from "./tollgate";
import * as plugin from "./plugin";

// Where an export's result goes: an `action` (24 bytes) or a `result<_, string>`.
const OUT: usize = memory.data(24, 4);
// What a result points at, kept alive until the host has read it (post-return).
const lent: Array<ArrayBuffer> = [];

// The allocator the host uses to hand the plugin strings and lists.
export function cabi_realloc(old: usize, oldSize: usize, align: usize, size: usize): usize {
  if (size == 0) return align;
  if (old == 0 || oldSize == 0) return heap.alloc(size);
  return heap.realloc(old, size);
}

export function init(config: usize, len: usize): usize {
  const refused = plugin.init(liftString(config, len));
  if (refused === null) {
    store<u8>(OUT, 0);
  } else {
    store<u8>(OUT, 1);
    lendBytes(OUT + 4, String.UTF8.encode(refused));
  }
  return OUT;
}

export function on_request(phase: i32, handle: i32): usize {
  const action = plugin.onRequest(phase, new Request(handle));
  dropRequest(handle);
  return lowerAction(action);
}

export function on_response(phase: i32, handle: i32): usize {
  const action = plugin.onResponse(phase, new ResponseHead(handle));
  dropResponseHead(handle);
  return lowerAction(action);
}

export function cabi_post_init(_ret: usize): void {
  lent.length = 0;
}

export function cabi_post_on_request(_ret: usize): void {
  lent.length = 0;
}

export function cabi_post_on_response(_ret: usize): void {
  lent.length = 0;
}

// An `action`: tag byte; for `respond`, the response's status (u16 at 4), headers (list of
// pairs of strings at 8) and body (list<u8> at 16).
function lowerAction(action: Action): usize {
  if (!action.respond) {
    store<u8>(OUT, 0);
    return OUT;
  }
  store<u8>(OUT, 1);
  store<u16>(OUT, action.status, 4);
  const count = action.headers.length;
  const pairs = new ArrayBuffer(count * 16);
  const at = changetype<usize>(pairs);
  for (let i = 0; i < count; i++) {
    const header = action.headers[i];
    lendBytes(at + i * 16, String.UTF8.encode(header.name));
    lendBytes(at + i * 16 + 8, String.UTF8.encode(header.value));
  }
  lendBytes(OUT + 8, pairs, count);
  lendBytes(OUT + 16, action.body);
  return OUT;
}

// Writes `bytes`' pointer and `len` (its byte length by default) at `at`, keeping it alive
// until post-return.
function lendBytes(at: usize, bytes: ArrayBuffer, len: i32 = -1): void {
  lent.push(bytes);
  store<u32>(at, changetype<usize>(bytes));
  store<u32>(at, len < 0 ? bytes.byteLength : len, 4);
}

// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[resource-drop]request")
declare function dropRequest(handle: i32): void;
// @ts-ignore: decorator
@external("tollgate:plugin/types@0.1.0", "[resource-drop]response-head")
declare function dropResponseHead(handle: i32): void;
