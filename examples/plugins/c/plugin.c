// A Tollgate filter plugin in C. It refuses requests without the configured `x-api-token`
// (401) and marks the others with `x-checked-by: c`; responses get `x-served-by`.
// `tollgate.h` has the hooks and helpers; `tollgate.c` drops the handles the host lends.
#include <stdlib.h>
#include <string.h>

#include "tollgate.h"

static char *token;
static char *served_by;

const char *plugin_init(const char *config) {
  token = tg_json_string(config, "token");
  if (token == NULL || token[0] == '\0') {
    return "config: `token` (a non-empty string) is required";
  }
  served_by = tg_json_string(config, "served_by");
  if (served_by == NULL) {
    served_by = strdup("tollgate");
  }
  return NULL;
}

void plugin_on_request(filter_request_phase_t phase, tg_request req, tg_action *action) {
  (void)phase;
  char *given = tg_request_header(req, "x-api-token");
  bool ok = given != NULL && strcmp(given, token) == 0;
  free(given);
  if (!ok) {
    tg_respond(action, 401, "application/json", "{\"message\":\"Unauthorized\"}");
    return;
  }
  tg_request_set_header(req, "x-checked-by", "c");
}

void plugin_on_response(filter_response_phase_t phase, tg_response resp, tg_action *action) {
  (void)phase;
  (void)action;
  tg_response_set_header(resp, "x-served-by", served_by);
}
