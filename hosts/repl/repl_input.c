/* repl_input.c — the REPL's multi-line reader (see repl_input.h). */
#include "repl_input.h"

#include <stdlib.h>
#include <string.h>

void repl_input_init(repl_input *in, sxapi_vm *vm, const char *file, bool continuous) {
  memset(in, 0, sizeof *in);
  in->vm = vm;
  in->file = strdup(file);
  if (!in->file) abort();
  in->first_line = in->next_line = 1;
  in->continuous = continuous;
}

void repl_input_free(repl_input *in) {
  repl_buf_free(&in->text);
  free(in->file);
  in->file = NULL;
}

bool repl_input_pending(const repl_input *in) { return in->text.len > 0; }

/* Start a new entry: its first line is the next one given. */
static void new_entry(repl_input *in) {
  in->text.len = 0;
  if (!in->continuous) in->next_line = 1;
  in->first_line = in->next_line;
}

void repl_input_skip_line(repl_input *in) {
  if (in->continuous) in->next_line++;
}

void repl_input_reset(repl_input *in) { new_entry(in); }

/* Read every form of the entry; the reader's positions start at its first line. */
static repl_input_state read_entry(repl_input *in, sxapi_value *out, bool *incomplete) {
  sxapi_value forms;
  sxapi_code rc = sxapi_read_at(in->vm, in->text.data ? in->text.data : "", in->text.len, in->file,
                                in->first_line, &forms);
  *incomplete = rc == SXAPI_ERR_INCOMPLETE;
  *out = forms;
  if (rc != SXAPI_OK) return REPL_INPUT_ERROR;
  size_t n = 0;
  sxapi_list_length(in->vm, forms, &n);
  return n == 0 ? REPL_INPUT_EMPTY : REPL_INPUT_READY;
}

repl_input_state repl_input_line(repl_input *in, const char *line, size_t len, sxapi_value *out) {
  if (len > 0 && line[len - 1] == '\n') len--;
  if (len > 0 && line[len - 1] == '\r') len--;
  if (!repl_input_pending(in)) in->first_line = in->next_line;
  repl_buf_put(&in->text, line, len);
  repl_buf_putc(&in->text, '\n');
  in->next_line++;
  bool incomplete;
  repl_input_state st = read_entry(in, out, &incomplete);
  if (st == REPL_INPUT_ERROR && incomplete) return REPL_INPUT_MORE;
  new_entry(in);
  return st;
}

repl_input_state repl_input_finish(repl_input *in, sxapi_value *out) {
  if (!repl_input_pending(in)) return REPL_INPUT_EMPTY;
  bool incomplete; /* at the end of the input, an open form is an error */
  repl_input_state st = read_entry(in, out, &incomplete);
  new_entry(in);
  return st;
}
