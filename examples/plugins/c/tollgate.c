// The component's exports for a C filter: each calls your hook (tollgate.h), then drops the
// handle the host lent the call. Strings handed back to the host are allocated with
// malloc: the bindings' post-return functions free them.
#include <stdlib.h>
#include <string.h>

#include "tollgate.h"

bool exports_filter_init(filter_string_t *config, filter_string_t *err) {
  char *text = malloc(config->len + 1);
  if (text == NULL) {
    filter_string_dup(err, "out of memory");
    return false;
  }
  memcpy(text, config->ptr, config->len);
  text[config->len] = '\0';
  filter_string_free(config);
  const char *refused = plugin_init(text);
  free(text);
  if (refused != NULL) {
    filter_string_dup(err, refused);
    return false;
  }
  return true;
}

void exports_filter_on_request(filter_request_phase_t phase, filter_borrow_request_t req,
                               filter_action_t *ret) {
  tg_continue(ret);
  plugin_on_request(phase, req, ret);
  tollgate_plugin_types_request_drop_borrow(req);
}

void exports_filter_on_response(filter_response_phase_t phase, filter_borrow_response_head_t resp,
                                filter_action_t *ret) {
  tg_continue(ret);
  plugin_on_response(phase, resp, ret);
  tollgate_plugin_types_response_head_drop_borrow(resp);
}

void tg_continue(tg_action *action) { action->tag = TOLLGATE_PLUGIN_TYPES_ACTION_CONTINUE; }

void tg_respond(tg_action *action, uint16_t status, const char *content_type, const char *body) {
  action->tag = TOLLGATE_PLUGIN_TYPES_ACTION_RESPOND;
  tollgate_plugin_types_response_t *r = &action->val.respond;
  r->status = status;
  r->headers.len = 0;
  r->headers.ptr = NULL;
  if (content_type != NULL) {
    r->headers.ptr = malloc(sizeof(filter_tuple2_string_string_t));
    if (r->headers.ptr != NULL) {
      filter_string_dup(&r->headers.ptr[0].f0, "content-type");
      filter_string_dup(&r->headers.ptr[0].f1, content_type);
      r->headers.len = 1;
    }
  }
  size_t len = body == NULL ? 0 : strlen(body);
  r->body.ptr = len == 0 ? NULL : malloc(len);
  r->body.len = r->body.ptr == NULL ? 0 : len;
  if (r->body.len > 0) {
    memcpy(r->body.ptr, body, len);
  }
}

char *tg_request_header(tg_request req, const char *name) {
  filter_string_t n, value;
  filter_string_set(&n, name);
  if (!tollgate_plugin_types_method_request_header(req, &n, &value)) {
    return NULL;
  }
  char *out = malloc(value.len + 1);
  if (out != NULL) {
    memcpy(out, value.ptr, value.len);
    out[value.len] = '\0';
  }
  filter_string_free(&value);
  return out;
}

bool tg_request_set_header(tg_request req, const char *name, const char *value) {
  filter_string_t n, v, err;
  filter_string_set(&n, name);
  filter_string_set(&v, value);
  if (tollgate_plugin_types_method_request_set_header(req, &n, &v, &err)) {
    return true;
  }
  filter_string_free(&err);
  return false;
}

bool tg_response_set_header(tg_response resp, const char *name, const char *value) {
  filter_string_t n, v, err;
  filter_string_set(&n, name);
  filter_string_set(&v, value);
  if (tollgate_plugin_types_method_response_head_set_header(resp, &n, &v, &err)) {
    return true;
  }
  filter_string_free(&err);
  return false;
}

char *tg_json_string(const char *json, const char *key) {
  size_t key_len = strlen(key);
  for (const char *p = strchr(json, '"'); p != NULL; p = strchr(p + 1, '"')) {
    if (strncmp(p + 1, key, key_len) != 0 || p[1 + key_len] != '"') {
      continue;
    }
    const char *v = p + 2 + key_len;
    while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') v++;
    if (*v++ != ':') continue;
    while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') v++;
    if (*v++ != '"') return NULL;
    const char *end = strchr(v, '"');
    if (end == NULL) return NULL;
    char *out = malloc((size_t)(end - v) + 1);
    if (out != NULL) {
      memcpy(out, v, (size_t)(end - v));
      out[end - v] = '\0';
    }
    return out;
  }
  return NULL;
}
