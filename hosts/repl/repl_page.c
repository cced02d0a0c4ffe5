/* repl_page.c — results longer than the limit, a page at a time. On a
 * terminal a list or dict shows at most `limit` entries (:set limit N);
 * when the last result was cut, :more shows its next `limit` entries, and
 * again until none are left. Only the outermost list or dict pages: a
 * nested one cut at the limit stays cut (:set limit shows more of it). */
#include "repl.h"
#include "repl_pretty.h"

#include <stdlib.h>

static size_t entries(repl *r, sxapi_value v) {
  size_t n = 0;
  if (sxapi_typeof(v) == SXAPI_TDICT) sxapi_dict_count(r->vm, v, &n);
  else if (sxapi_typeof(v) == SXAPI_TLIST) sxapi_list_length(r->vm, v, &n);
  return n;
}

static void forget(repl *r) {
  if (r->page) sxapi_unpin(r->vm, r->page);
  r->page = 0;
}

/* Say how many entries are left and how to see them. */
static void hint(repl *r, size_t left) {
  if (r->colour) fputs(REPL_SGR_DIM, stdout);
  if (left > r->limit) printf("(%zu more: :more shows the next %zu)", left, r->limit);
  else printf("(%zu more: :more shows %s)", left, left == 1 ? "it" : "them");
  if (r->colour) fputs(REPL_SGR_RESET, stdout);
  fputc('\n', stdout);
}

void repl_page_note(repl *r, sxapi_value v) {
  forget(r);
  size_t n = entries(r, v);
  if (!r->tty || !r->limit || n <= r->limit || sxapi_pin(r->vm, v) != SXAPI_OK) return;
  r->page = v;
  r->page_from = r->limit;
  hint(r, n - r->limit);
}

/* Entries [from, from + n) of the list or dict v, as a list or dict. */
static sxapi_value slice(repl *r, sxapi_value v, size_t from, size_t n) {
  bool dict = sxapi_typeof(v) == SXAPI_TDICT;
  sxapi_value *items = malloc((n + 1) * sizeof *items), k, x, out = dict ? sxapi_dict(r->vm) : 0;
  if (!items) abort();
  size_t i = 0, k_n = 0;
  const char *key;
  sxapi_iter it;
  sxapi_iter_init(r->vm, v, &it);
  for (; k_n < n && sxapi_iter_next(&it, &k, &x); i++) {
    if (i < from) continue;
    if (!dict) items[k_n++] = x; /* held by v, which is pinned */
    else if (sxapi_to_string(r->vm, k, &key, NULL) == SXAPI_OK &&
             sxapi_dict_set(r->vm, out, key, x, &out) == SXAPI_OK)
      k_n++;
  }
  if (!dict) out = sxapi_list(r->vm, k_n, items);
  free(items);
  return out;
}

void repl_page_more(repl *r) {
  if (!r->page) {
    puts("nothing more to show (:more continues a result cut at the limit)");
    return;
  }
  sxapi_value v = r->page;
  size_t total = entries(r, v), from = r->page_from;
  size_t n = total - from < r->limit ? total - from : r->limit;
  printf("entries %zu to %zu of %zu:\n", from + 1, from + n, total);
  repl_buf b = REPL_BUF_INIT;
  repl_pretty_opts o = {r->vm, repl_width(r), r->colour, r->limit};
  repl_pretty(&b, slice(r, v, from, n), &o);
  repl_buf_putc(&b, '\n');
  fwrite(b.data, 1, b.len, stdout);
  repl_buf_free(&b);
  r->page_from = from + n;
  if (r->page_from < total) hint(r, total - r->page_from);
  else forget(r);
}
