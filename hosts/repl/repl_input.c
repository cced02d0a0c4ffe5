/* repl_input.c — the REPL's multi-line reader (see repl_input.h). */
#include "repl_input.h"

#include "sx_read.h"

#include <string.h>

void repl_input_init(repl_input *in, const char *file, bool continuous) {
  memset(in, 0, sizeof *in);
  in->file = sx_string_cstr(file);
  in->first_line = in->next_line = 1;
  in->continuous = continuous;
}

void repl_input_free(repl_input *in) { sx_buf_free(&in->text); }

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
static repl_input_state read_entry(repl_input *in, sx_val *out, bool *incomplete) {
  sx_reader r;
  sx_reader_init(&r, in->text.data ? in->text.data : "", in->text.len, in->file);
  r.line = in->first_line;
  sx_val forms = SX_EMPTY, form;
  sx_read_status st;
  while ((st = sx_read_next(&r, &form)) == SX_READ_OK) forms = sx_cons(form, forms);
  *incomplete = st == SX_READ_ERROR && r.incomplete;
  if (st == SX_READ_ERROR) {
    *out = r.error;
    return REPL_INPUT_ERROR;
  }
  *out = sx_list_reverse(forms);
  return forms == SX_EMPTY ? REPL_INPUT_EMPTY : REPL_INPUT_READY;
}

repl_input_state repl_input_line(repl_input *in, const char *line, size_t len, sx_val *out) {
  if (len > 0 && line[len - 1] == '\n') len--;
  if (len > 0 && line[len - 1] == '\r') len--;
  if (!repl_input_pending(in)) in->first_line = in->next_line;
  sx_buf_put(&in->text, line, len);
  sx_buf_putc(&in->text, '\n');
  in->next_line++;
  bool incomplete;
  repl_input_state st = read_entry(in, out, &incomplete);
  if (st == REPL_INPUT_ERROR && incomplete) return REPL_INPUT_MORE;
  new_entry(in);
  return st;
}

repl_input_state repl_input_finish(repl_input *in, sx_val *out) {
  if (!repl_input_pending(in)) return REPL_INPUT_EMPTY;
  bool incomplete; /* at the end of the input, an open form is an error */
  repl_input_state st = read_entry(in, out, &incomplete);
  new_entry(in);
  return st;
}
