/* repl_doc.c — help on names at the REPL: :doc NAME prints a name's
 * signature and one-line description, :apropos TEXT every name containing
 * TEXT with its description. Both ask the standard library (%doc and
 * apropos), so they say what (doc NAME) says. */
#include "repl.h"
#include "repl_pretty.h"

#include <stdlib.h>
#include <string.h>

#define APROPOS_NAME_MAX 28 /* a longer name gets a line of its own */

/* Call the global fn_name with the string arg. */
static sxapi_code call_named(repl *r, const char *fn_name, const char *arg, sxapi_value *out) {
  sxapi_value fn, a = sxapi_cstring(r->vm, arg);
  if (sxapi_global(r->vm, fn_name, &fn) != SXAPI_OK) {
    *out = sxapi_error(r->vm, "the REPL's help needs the stdlib's %doc and apropos");
    return SXAPI_ERR_NOTFOUND;
  }
  return sxapi_call(r->vm, fn, 1, &a, out);
}

static const char *string_at(repl *r, sxapi_value list, size_t i) {
  sxapi_value v;
  const char *s;
  if (sxapi_list_get(r->vm, list, i, &v) != SXAPI_OK || sxapi_to_string(r->vm, v, &s, NULL) != SXAPI_OK)
    return "?";
  return s;
}

/* The signature and description of name; false when it has none (the
 * error shown). */
static bool describe(repl *r, const char *name, const char **sig, const char **doc) {
  sxapi_value d;
  if (call_named(r, "%doc", name, &d) != SXAPI_OK) {
    repl_show_error(r, d);
    return false;
  }
  *sig = string_at(r, d, 0);
  *doc = string_at(r, d, 1);
  return true;
}

void repl_cmd_doc(repl *r, const char *name) {
  const char *sig, *doc;
  if (!describe(r, name, &sig, &doc)) return;
  if (r->colour) printf(REPL_SGR_BOLD "%s" REPL_SGR_RESET "\n  %s\n", sig, doc);
  else printf("%s\n  %s\n", sig, doc);
}

void repl_cmd_apropos(repl *r, const char *text) {
  sxapi_value names;
  size_t n = 0, width = 0;
  if (call_named(r, "apropos", text, &names) != SXAPI_OK) {
    repl_show_error(r, names);
    return;
  }
  sxapi_list_length(r->vm, names, &n);
  if (!n) {
    printf("no name contains \"%s\"\n", text);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    size_t w = strlen(string_at(r, names, i));
    if (w > width && w <= APROPOS_NAME_MAX) width = w;
  }
  for (size_t i = 0; i < n; i++) {
    const char *name = string_at(r, names, i), *sig, *doc;
    if (!describe(r, name, &sig, &doc)) continue;
    if (strlen(name) > width) printf("%s\n%*s  %s\n", name, (int)width, "", doc);
    else printf("%-*s  %s\n", (int)width, name, doc);
  }
}
