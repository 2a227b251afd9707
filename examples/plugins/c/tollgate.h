// Helpers for Tollgate filter plugins in C, over the bindings `wit-bindgen c` 0.61.1
// generates from the contract (`filter.h`, `filter.c`, `filter_component_type.o`, for the
// `filter` world of `wit/plugin.wit`). Copied into each plugin by
// `tollgate plugin new --lang c`.
//
// `tollgate.c` defines the component's exports and calls the three hooks below. It also
// keeps the one rule the bindings leave to you: a handle the host lends a hook (the
// request, the response head) must be dropped before the hook returns, or the call fails
// with "borrow handles still remain at the end of the call" and the client gets 500. The
// exports drop it after your hook returns: do not drop it yourself.
#ifndef TOLLGATE_H
#define TOLLGATE_H

#include <stdbool.h>
#include <stdint.h>

#include "filter.h"

typedef filter_borrow_request_t tg_request;
typedef filter_borrow_response_head_t tg_response;
typedef filter_action_t tg_action;

// Your plugin: called once per instance with its JSON config (a NUL-terminated string).
// Return NULL to accept it, or a message (copied) to refuse it: the gateway names the
// plugin and refuses the config.
const char *plugin_init(const char *config);
// A request phase (`TOLLGATE_PLUGIN_TYPES_REQUEST_PHASE_AUTHORIZE`, …): set `*action` with
// `tg_continue` or `tg_respond`.
void plugin_on_request(filter_request_phase_t phase, tg_request req, tg_action *action);
// A response phase.
void plugin_on_response(filter_response_phase_t phase, tg_response resp, tg_action *action);

// Pass the request (or response) on.
void tg_continue(tg_action *action);
// Answer the client now with `status`, a `content-type` (NULL: none) and `body`.
void tg_respond(tg_action *action, uint16_t status, const char *content_type, const char *body);

// The first value of a request header as a string to free(), or NULL when absent.
char *tg_request_header(tg_request req, const char *name);
// Sets a request header (sent to the integration); false when the host refuses it (a
// hop-by-hop header, an invalid name or value).
bool tg_request_set_header(tg_request req, const char *name, const char *value);
// Sets a response header; false when refused.
bool tg_response_set_header(tg_response resp, const char *name, const char *value);

// The string value of `key` at the top level of a JSON object, as a string to free(), or
// NULL when absent or not a string. A small reader for configs: it does not decode escapes.
char *tg_json_string(const char *json, const char *key);

#endif
