/* store_txn.c — per-evaluation transactions, independent of the backend:
 * the write set (records in the log's record format plus an overlay that
 * reads consult), the read set (the version of everything read), reads that
 * merge the committed state with the transaction's own writes, and the
 * validation a backend runs at commit (optimistic concurrency control).
 *
 * Invariants: a txn_stream's events have seqs base.hwm + 1 ... base.hwm + n;
 * the payload holds exactly the records of the writes made so far, in
 * order; a doomed transaction (one whose re-read saw a newer version) can
 * only fail. */
#include "store_backend.h"

#include <assert.h>
#include <gc.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "sx_dict.h"

/* ---- small maps: name -> entry (open addressing over entry indexes) ---- */

typedef struct tx_head {
  sx_val name;
  uint32_t hash;
} tx_head;
_Static_assert(offsetof(txn_stream, name) == offsetof(tx_head, name) &&
                   offsetof(txn_stream, hash) == offsetof(tx_head, hash),
               "txn_stream starts like tx_head");
_Static_assert(offsetof(txn_key, key) == offsetof(tx_head, name) &&
                   offsetof(txn_key, hash) == offsetof(tx_head, hash),
               "txn_key starts like tx_head");

typedef struct tx_map {
  uint32_t **idx;
  size_t *nb;
  char *base;
  size_t stride, n;
} tx_map;

static tx_head *tx_at(const tx_map *m, size_t i) { return (tx_head *)(m->base + i * m->stride); }

static bool tx_same(sx_val a, sx_val b) {
  return a == b ||
         (sx_str_len(a) == sx_str_len(b) && memcmp(sx_str_data(a), sx_str_data(b), sx_str_len(a)) == 0);
}

static long tx_find(const tx_map *m, sx_val name, uint32_t h) {
  if (!*m->nb) return -1;
  size_t mask = *m->nb - 1;
  for (size_t j = h & mask;; j = (j + 1) & mask) {
    uint32_t e = (*m->idx)[j];
    if (!e) return -1;
    tx_head *hd = tx_at(m, e - 1);
    if (hd->hash == h && tx_same(hd->name, name)) return (long)(e - 1);
  }
}

static void tx_place(uint32_t *idx, size_t nb, uint32_t h, size_t i) {
  size_t j = h & (nb - 1);
  while (idx[j]) j = (j + 1) & (nb - 1);
  idx[j] = (uint32_t)(i + 1);
}

/* Index entry i (already stored at base[i], the n-th); grows the table so
 * that it stays at most half full. The first table is room (room_n slots)
 * when there is one (room_n is 0 when not: a table never has 0 slots). */
static void tx_link(tx_map *m, size_t i, uint32_t *room, size_t room_n) {
  if ((m->n + 1) * 2 > *m->nb) {
    size_t nb = *m->nb ? *m->nb * 2 : room ? room_n : 8;
    uint32_t *idx = nb == room_n ? room : store_xgc_atomic(nb * sizeof *idx);
    memset(idx, 0, nb * sizeof *idx);
    for (size_t k = 0; k < m->n; k++) tx_place(idx, nb, tx_at(m, k)->hash, k);
    *m->idx = idx;
    *m->nb = nb;
  }
  tx_place(*m->idx, *m->nb, tx_at(m, i)->hash, i);
}

static void *tx_grow(void *old, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return old;
  size_t ncap = *cap ? *cap * 2 : 2;
  void *p = store_xgc(ncap * elem);
  memset(p, 0, ncap * elem);
  if (old) memcpy(p, old, n * elem);
  *cap = ncap;
  return p;
}

static txn_stream *tx_stream(store_txn *t, sx_val name, bool *fresh) {
  uint32_t h = store_hash(sx_str_data(name), sx_str_len(name));
  tx_map m = {&t->sidx, &t->snb, (char *)t->streams, sizeof *t->streams, t->nstreams};
  long i = tx_find(&m, name, h);
  *fresh = i < 0;
  if (i >= 0) return &t->streams[i];
  t->streams = tx_grow(t->streams, &t->scap, t->nstreams, sizeof *t->streams);
  txn_stream *ts = &t->streams[t->nstreams];
  memset(ts, 0, sizeof *ts);
  ts->name = name;
  ts->hash = h;
  m.base = (char *)t->streams;
  tx_link(&m, t->nstreams, t->sidx_room, sizeof t->sidx_room / sizeof *t->sidx_room);
  t->nstreams++;
  return ts;
}

static txn_key *tx_key(store_txn *t, sx_val key) {
  uint32_t h = store_hash(sx_str_data(key), sx_str_len(key));
  tx_map m = {&t->kidx, &t->knb, (char *)t->keys, sizeof *t->keys, t->nkeys};
  long i = tx_find(&m, key, h);
  if (i >= 0) return &t->keys[i];
  t->keys = tx_grow(t->keys, &t->kcap, t->nkeys, sizeof *t->keys);
  txn_key *tk = &t->keys[t->nkeys];
  memset(tk, 0, sizeof *tk);
  tk->key = key;
  tk->hash = h;
  m.base = (char *)t->keys;
  tx_link(&m, t->nkeys, NULL, 0);
  t->nkeys++;
  return tk;
}

/* ---- the payload ------------------------------------------------------------ */

/* The payload is the transaction's own room (cap > 0) until it grows. */
static void tb_put(store_bytes *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap * 2;
    while (cap < b->len + n) cap *= 2;
    char *d = store_xgc_atomic(cap);
    memcpy(d, b->data, b->len);
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void tb_uvarint(store_bytes *b, uint64_t v) {
  unsigned char tmp[10];
  tb_put(b, tmp, codec_uvarint_encode(tmp, v));
}

/* Values are encoded into a per-thread scratch buffer, then copied. */
static __thread sx_buf tx_scratch SX_TLS_FAST;

/* ---- lifecycle ------------------------------------------------------------- */

static void tx_init(store_txn *t, store *s) {
  t->s = s;
  t->since = store_clock(s);
  t->doomed = SX_NIL;
  t->streams = t->stream_room;
  t->scap = 2;
  t->payload = (store_bytes){t->payload_room, 0, sizeof t->payload_room};
}

store_txn *store_txn_begin(store *s) {
  store_txn *t = store_xgc(sizeof *t); /* zeroed */
  tx_init(t, s);
  return t;
}

store_txn *store_txn_renew(store_txn *t, store *s) {
  if (!t || !t->finished) return store_txn_begin(s);
  memset(t, 0, sizeof *t);
  tx_init(t, s);
  return t;
}

store *store_txn_store(store_txn *t) { return t->s; }

uint64_t store_clock(store *s) { return s->be->clock ? s->be->clock(s) : 0; }

void store_txn_since(store_txn *t, uint64_t c) {
  if (c < t->since) t->since = c; /* never later than the transaction's begin */
}
bool store_txn_dirty(store_txn *t) { return t->nrecords > 0; }

/* A read the backend could not serve (v, an error value): the evaluation
 * can only fail. */
static sx_val tx_broke(store_txn *t, sx_val v) {
  if (!t->broken) t->broken = v;
  return v;
}

bool store_txn_failed(store_txn *t, sx_val *err) {
  if (!t->broken) return false;
  *err = t->broken;
  return true;
}

bool store_txn_conflicted(store_txn *t, sx_val *msg) {
  if (t->doomed == SX_NIL) return false;
  *msg = t->doomed;
  return true;
}

static void tx_finish(store_txn *t) {
  t->finished = true;
  t->payload = (store_bytes){t->payload_room, 0, sizeof t->payload_room}; /* drop a grown one */
}

void store_txn_abort(store_txn *t) {
  if (t) tx_finish(t);
}

int store_txn_commit(store_txn *t, uint64_t *ticket, sx_val *err) {
  assert(!t->finished);
  *ticket = 0;
  if (t->doomed != SX_NIL) {
    *err = t->doomed;
    tx_finish(t);
    return STORE_ECONFLICT;
  }
  if (t->broken) {
    *err = t->broken;
    tx_finish(t);
    return STORE_EFAIL;
  }
  int rc = t->s->be->commit(t->s, t, ticket, err);
  tx_finish(t);
  return rc;
}

/* ---- observing committed state --------------------------------------------- */

static void tx_doom(store_txn *t, const char *what, sx_val name) {
  if (t->doomed != SX_NIL) return;
  char q[96];
  if (name)
    t->doomed = store_errorf("conflict: %s \"%s\" was changed by another evaluation while this one ran", what,
                             store_quote(name, q, sizeof q));
  else t->doomed = store_errorf("conflict: %s changed by another evaluation while this one ran", what);
}

static void tx_saw(store_txn *t, const store_rv *rv) {
  if (rv->ver > t->seen) t->seen = rv->ver;
}

/* Record a read of rv in *slot (the first read counts; a later read that
 * sees another version dooms the transaction). */
static void tx_note(store_txn *t, bool *have, store_rv *slot, const store_rv *rv, const char *what,
                    sx_val name) {
  tx_saw(t, rv);
  if (!*have) {
    *have = true;
    *slot = *rv;
  } else if (slot->ver != rv->ver) {
    tx_doom(t, what, name);
  }
}

/* The stream as the transaction sees it; records a read of its mark. */
static txn_stream *tx_see_stream(store_txn *t, sx_val name) {
  bool fresh;
  txn_stream *ts = tx_stream(t, name, &fresh);
  if (fresh) {
    t->s->be->stream_info(t->s, name, &ts->base, t->since);
    ts->hwm_read = true;
    tx_saw(t, &ts->base.hwm_rv);
    if (ts->base.error && !t->broken) t->broken = ts->base.error;
  }
  return ts;
}

static int64_t ts_hwm(const txn_stream *ts) { return ts->base.hwm + (int64_t)ts->n; }
static bool ts_exists(const txn_stream *ts) { return ts_hwm(ts) > 0; }

/* ---- log facet ---------------------------------------------------------------- */

static sx_val seq_key;
static void tx_seq_key_init(void) { seq_key = sx_string_shared("seq"); }

static sx_val tx_seq_key(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, tx_seq_key_init);
  return seq_key;
}

static int64_t event_seq(sx_val event) {
  sx_val v = sx_is_dict(event) ? sx_dict_lookup(event, tx_seq_key()) : SX_UNDEF;
  return v != SX_UNDEF && sx_is_int(v) ? sx_int_val(v) : INT64_MIN;
}

static int tx_need_string(sx_val v, const char *op, const char *what, sx_val *err) {
  if (sx_is_string(v)) return 0;
  *err = store_errorf("%s: %s must be a string, got %s", op, what, sx_type_name(v));
  return -1;
}

static int tx_check_event(txn_stream *ts, sx_val stream, sx_val event, sx_val *err) {
  char q[96];
  if (!sx_is_dict(event)) {
    *err = store_errorf("append to stream \"%s\": the event must be a dict, got %s",
                        store_quote(stream, q, sizeof q), sx_type_name(event));
    return -1;
  }
  int64_t seq = event_seq(event), hwm = ts_hwm(ts);
  if (seq == INT64_MIN) {
    *err = store_errorf("append to stream \"%s\": the event has no integer :seq",
                        store_quote(stream, q, sizeof q));
    return -1;
  }
  if (seq != hwm + 1) {
    *err =
        store_errorf("append to stream \"%s\": event :seq %lld does not follow the stream's "
                     "last seq %lld (expected %lld)",
                     store_quote(stream, q, sizeof q), (long long)seq, (long long)hwm, (long long)(hwm + 1));
    return -1;
  }
  return 0;
}

/* A record head (type + length-prefixed name) into the payload. */
static void tx_rec_head(store_txn *t, int type, sx_val name) {
  char c = (char)type;
  tb_put(&t->payload, &c, 1);
  tb_uvarint(&t->payload, sx_str_len(name));
  tb_put(&t->payload, sx_str_data(name), sx_str_len(name));
  t->nrecords++;
}

/* A length-prefixed encoded value into the payload; *at: where. */
static int tx_rec_value(store_txn *t, sx_val v, size_t *at, sx_val *err) {
  sx_buf_reset(&tx_scratch);
  if (store_encode(&tx_scratch, v, err)) return -1;
  *at = t->payload.len;
  tb_uvarint(&t->payload, tx_scratch.len);
  tb_put(&t->payload, tx_scratch.data, tx_scratch.len);
  return 0;
}

void store_txn_encoded(const store_txn *t, size_t at, const char **data, size_t *len) {
  assert(at < t->payload.len);
  uint64_t n = 0;
  size_t used = codec_get_uvarint((const unsigned char *)t->payload.data + at, t->payload.len - at, &n);
  assert(used && at + used + n <= t->payload.len);
  *data = t->payload.data + at + used;
  *len = (size_t)n;
}

static int tx_writable(store_txn *t, sx_val *err) {
  assert(!t->finished);
  return t->s->be->writable(t->s, err);
}

/* A write to a stream whose mark could not be read fails with the reason
 * (its seq rule and truncation bounds cannot be checked). */
static int tx_unknown_stream(const txn_stream *ts, sx_val *err) {
  *err = ((const sx_error *)ts->base.error)->message;
  return -1;
}

int store_txn_append(store_txn *t, sx_val stream, sx_val event, sx_val *err) {
  if (tx_writable(t, err) || tx_need_string(stream, "append", "the stream name", err)) return -1;
  txn_stream *ts = tx_see_stream(t, stream);
  if (ts->base.error) return tx_unknown_stream(ts, err);
  if (tx_check_event(ts, stream, event, err)) return -1;
  size_t mark = t->payload.len;
  tx_rec_head(t, REC_APPEND, stream);
  tb_uvarint(&t->payload, (uint64_t)(ts_hwm(ts) + 1));
  size_t at;
  if (tx_rec_value(t, event, &at, err)) { /* non-data: nothing written */
    t->payload.len = mark;
    t->nrecords--;
    return -1;
  }
  size_t cap = ts->cap;
  ts->events = tx_grow(ts->events, &ts->cap, ts->n, sizeof *ts->events);
  ts->enc_at = tx_grow(ts->enc_at, &cap, ts->n, sizeof *ts->enc_at);
  ts->enc_at[ts->n] = at;
  ts->events[ts->n++] = event;
  return 0;
}

int64_t store_txn_last_seq(store_txn *t, sx_val stream) {
  if (!sx_is_string(stream)) return 0;
  return ts_hwm(tx_see_stream(t, stream));
}

/* Drop the events with seq <= upto from the front of list. */
static sx_val tx_drop_upto(sx_val list, int64_t upto) {
  while (sx_is_cons(list) && event_seq(sx_car(list)) <= upto) list = sx_cdr(list);
  return list;
}

/* committed (already cut by the truncation) followed by the own events. */
static sx_val tx_merge_events(sx_val committed, txn_stream *ts) {
  size_t n = 0;
  for (sx_val l = committed; sx_is_cons(l); l = sx_cdr(l)) n++;
  sx_val *items = store_xgc((n + ts->n + 1) * sizeof *items);
  size_t k = 0;
  for (sx_val l = committed; sx_is_cons(l); l = sx_cdr(l)) items[k++] = sx_car(l);
  for (size_t i = 0; i < ts->n; i++)
    if (ts->base.hwm + 1 + (int64_t)i > ts->trunc) items[k++] = ts->events[i];
  return sx_list(k, items);
}

sx_val store_txn_read(store_txn *t, sx_val stream) {
  if (!sx_is_string(stream)) return SX_EMPTY;
  txn_stream *ts = tx_see_stream(t, stream);
  if (ts->base.error) return tx_broke(t, ts->base.error); /* nothing to compare the read with */
  store_stream_info now;
  sx_val list = t->s->be->read(t->s, stream, &now, t->since);
  if (sx_is(list, SX_T_ERROR)) return tx_broke(t, list);
  tx_note(t, &ts->content_read, &ts->base.content_rv, &now.content_rv, "stream", stream);
  if (now.hwm_rv.ver != ts->base.hwm_rv.ver) tx_doom(t, "stream", stream);
  if (t->doomed != SX_NIL) return sx_error_new(t->doomed, SX_NIL);
  if (ts->trunc) list = tx_drop_upto(list, ts->trunc);
  return ts->n ? tx_merge_events(list, ts) : list;
}

int store_txn_truncate(store_txn *t, sx_val stream, int64_t n, sx_val *err) {
  if (tx_writable(t, err) || tx_need_string(stream, "truncate", "the stream name", err)) return -1;
  txn_stream *ts = tx_see_stream(t, stream);
  if (ts->base.error) return tx_unknown_stream(ts, err);
  if (!ts_exists(ts)) return 0; /* nothing stored: nothing to drop */
  int64_t first = ts->base.first > ts->trunc ? ts->base.first : ts->trunc + 1;
  if (n < first || first > ts_hwm(ts)) return 0; /* drops nothing */
  if (n > ts_hwm(ts)) n = ts_hwm(ts); /* past the mark: through it, so later appends stay */
  tx_rec_head(t, REC_TRUNCATE, stream);
  tb_uvarint(&t->payload, codec_zigzag(n));
  ts->trunc = n;
  return 0;
}

static int tx_cmp_strings(const void *a, const void *b) {
  return sx_string_cmp(*(const sx_val *)a, *(const sx_val *)b);
}

static sx_val tx_sorted(sx_val *items, size_t n) {
  qsort(items, n, sizeof *items, tx_cmp_strings);
  return sx_list(n, items);
}

sx_val store_txn_streams(store_txn *t) {
  store_rv rv;
  sx_val committed = t->s->be->streams(t->s, &rv);
  if (sx_is(committed, SX_T_ERROR)) return tx_broke(t, committed);
  tx_note(t, &t->catalog_read, &t->catalog_rv, &rv, "the stream list", 0);
  size_t fresh = 0, n = 0;
  for (size_t i = 0; i < t->nstreams; i++) fresh += t->streams[i].base.hwm == 0 && t->streams[i].n > 0;
  if (!fresh) return committed;
  for (sx_val l = committed; sx_is_cons(l); l = sx_cdr(l)) n++;
  sx_val *items = store_xgc((n + fresh + 1) * sizeof *items);
  size_t k = 0;
  for (sx_val l = committed; sx_is_cons(l); l = sx_cdr(l)) items[k++] = sx_car(l);
  for (size_t i = 0; i < t->nstreams; i++)
    if (t->streams[i].base.hwm == 0 && t->streams[i].n > 0) items[k++] = t->streams[i].name;
  return tx_sorted(items, k);
}

/* ---- kv facet ----------------------------------------------------------------- */

/* The committed value of tk's key, recording the read. */
static sx_val tx_kv_committed(store_txn *t, txn_key *tk, bool *has) {
  store_rv rv;
  sx_val v = t->s->be->kv_get(t->s, tk->key, has, &rv, t->since);
  if (sx_is(v, SX_T_ERROR)) return tx_broke(t, v);
  if (!tk->read) tk->had = *has;
  tx_note(t, &tk->read, &tk->rv, &rv, "kv key", tk->key);
  return v;
}

sx_val store_txn_kv_get(store_txn *t, sx_val key) {
  if (!sx_is_string(key)) return SX_NIL;
  txn_key *tk = tx_key(t, key);
  if (tk->state == TK_PUT) return tk->val;
  if (tk->state == TK_DELETED) return SX_NIL;
  bool has;
  sx_val v = tx_kv_committed(t, tk, &has);
  if (t->doomed != SX_NIL && !sx_is(v, SX_T_ERROR)) return sx_error_new(t->doomed, SX_NIL);
  return v;
}

bool store_txn_kv_has(store_txn *t, sx_val key) {
  if (!sx_is_string(key)) return false;
  txn_key *tk = tx_key(t, key);
  if (tk->state != TK_UNTOUCHED) return tk->state == TK_PUT;
  bool has;
  tx_kv_committed(t, tk, &has);
  return has;
}

int store_txn_kv_put(store_txn *t, sx_val key, sx_val val, sx_val *err) {
  if (tx_writable(t, err) || tx_need_string(key, "kv-put", "the key", err)) return -1;
  size_t mark = t->payload.len;
  tx_rec_head(t, REC_PUT, key);
  size_t at;
  if (tx_rec_value(t, val, &at, err)) {
    t->payload.len = mark;
    t->nrecords--;
    return -1;
  }
  txn_key *tk = tx_key(t, key);
  tk->state = TK_PUT;
  tk->val = val;
  tk->val_at = at;
  return 0;
}

int store_txn_kv_delete(store_txn *t, sx_val key, sx_val *err) {
  if (tx_writable(t, err) || tx_need_string(key, "kv-delete", "the key", err)) return -1;
  if (!store_txn_kv_has(t, key)) return 0;
  tx_rec_head(t, REC_DELETE, key);
  txn_key *tk = tx_key(t, key);
  tk->state = TK_DELETED;
  tk->val = SX_NIL;
  return 0;
}

sx_val store_txn_kv_keys(store_txn *t) {
  store_rv rv;
  sx_val committed = t->s->be->kv_keys(t->s, &rv);
  if (sx_is(committed, SX_T_ERROR)) return tx_broke(t, committed);
  tx_note(t, &t->keys_read, &t->keys_rv, &rv, "the kv key list", 0);
  size_t touched = 0, n = 0;
  for (size_t i = 0; i < t->nkeys; i++) {
    t->keys[i].mark = false;
    touched += t->keys[i].state != TK_UNTOUCHED;
  }
  if (!touched) return committed;
  for (sx_val l = committed; sx_is_cons(l); l = sx_cdr(l)) n++;
  sx_val *items = store_xgc((n + touched + 1) * sizeof *items);
  size_t k = 0;
  for (sx_val l = committed; sx_is_cons(l); l = sx_cdr(l)) {
    tx_map m = {&t->kidx, &t->knb, (char *)t->keys, sizeof *t->keys, t->nkeys};
    sx_val key = sx_car(l);
    long i = tx_find(&m, key, store_hash(sx_str_data(key), sx_str_len(key)));
    if (i >= 0) t->keys[i].mark = true;
    if (i < 0 || t->keys[i].state != TK_DELETED) items[k++] = key;
  }
  for (size_t i = 0; i < t->nkeys; i++)
    if (t->keys[i].state == TK_PUT && !t->keys[i].mark) items[k++] = t->keys[i].key;
  return tx_sorted(items, k);
}

/* ---- validation ------------------------------------------------------------------- */

typedef struct tx_check {
  store_txn *t;
  store_ver_fn cur;
  bool strict;     /* the transaction writes: everything read must be current */
  uint64_t newest; /* newest version read */
  sx_val *err;
} tx_check;

/* Does a read of (kind, name) that saw rv still hold? */
static bool tx_item_ok(tx_check *c, store_item kind, sx_val name, const store_rv *rv) {
  uint64_t now = c->cur(c->t->s, kind, name);
  if (now == rv->ver) return true;
  /* read-only: still fine if the item had not changed yet when the
   * newest state this transaction saw was already committed */
  return !c->strict && rv->at >= c->newest;
}

static int tx_conflict(tx_check *c, const char *what, sx_val name) {
  char q[96];
  if (name)
    *c->err = store_errorf("conflict: %s \"%s\" was changed by another evaluation since this one read it",
                           what, store_quote(name, q, sizeof q));
  else *c->err = store_errorf("conflict: %s was changed by another evaluation since this one read it", what);
  return STORE_ECONFLICT;
}

int store_txn_validate(store_txn *t, store_ver_fn cur, sx_val *err) {
  tx_check c = {t, cur, t->nrecords > 0, t->seen, err};
  for (size_t i = 0; i < t->nstreams; i++) {
    txn_stream *ts = &t->streams[i];
    /* every stream in the set had its mark read (tx_see_stream) */
    if (!tx_item_ok(&c, STORE_ITEM_HWM, ts->name, &ts->base.hwm_rv))
      return tx_conflict(&c, "stream", ts->name);
    if (ts->content_read && !tx_item_ok(&c, STORE_ITEM_CONTENT, ts->name, &ts->base.content_rv))
      return tx_conflict(&c, "stream", ts->name);
  }
  for (size_t i = 0; i < t->nkeys; i++)
    if (t->keys[i].read && !tx_item_ok(&c, STORE_ITEM_KEY, t->keys[i].key, &t->keys[i].rv))
      return tx_conflict(&c, "kv key", t->keys[i].key);
  if (t->catalog_read && !tx_item_ok(&c, STORE_ITEM_CATALOG, 0, &t->catalog_rv))
    return tx_conflict(&c, "the stream list", 0);
  if (t->keys_read && !tx_item_ok(&c, STORE_ITEM_KEYS, 0, &t->keys_rv))
    return tx_conflict(&c, "the kv key list", 0);
  return STORE_OK;
}
