/* blob.h — the content-addressed blob store that lives beside the log in a
 * store directory (DIR/blobs/<shard>/<cid>). A blob's id is a CIDv1: raw
 * codec (0x55), sha2-256 multihash, base32 lower-case multibase ('b'), so
 * every id is 59 characters starting "bafkrei". Equal bytes are stored once;
 * reads verify the bytes against the id. Ids are validated before any file
 * system use: a malformed id is an error, never a path. */
#ifndef STORE_BLOB_H
#define STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "sx_buf.h"
#include "sx_value.h"

#define BLOB_CID_LEN 59

/* Store bytes in the store directory dir (durably when sync); *cid_out gets
 * the id as an SX string. Functions return 0, or -1 with *err a sentence. */
int blob_put(const char *dir, bool sync, const char *bytes, size_t len, sx_val *cid_out, sx_val *err);
/* *bytes_out gets the bytes as an SX string, or SX_NIL when no such blob is
 * stored. Damaged bytes are reported as an error, never returned. */
int blob_get(const char *dir, sx_val cid, sx_val *bytes_out, sx_val *err);
int blob_has(const char *dir, sx_val cid, bool *out, sx_val *err);
/* The size of a stored blob without reading it (the store in dir need not
 * be open): 0 and *size, 1 when absent, -1 when cid is malformed. */
int blob_size(const char *dir, const char *cid, uint64_t *size);
/* 0 when cid is a well-formed blob id; else -1 with *err saying so. */
int blob_id_ok(sx_val cid, sx_val *err);
/* Is s[0..len) a well-formed CIDv1 raw sha2-256 base32 id? */
bool blob_cid_valid(const char *s, size_t len);
/* The id of bytes, NUL-terminated, into out. */
void blob_cid_of(const char *bytes, size_t len, char out[BLOB_CID_LEN + 1]);
/* Verify every blob under dir/blobs; appends to report. 0 clean, 1 damage,
 * -1 unreadable. */
int blob_check_dir(const char *dir, sx_buf *report);

#endif
