/* sx_doc.h — documentation of names: a signature and a one-line
 * description for every special form and every global the standard
 * library binds (sx_doc_builtins.c), and a description for every public
 * function of the persist library (sx_doc_persist.c; the persist sources
 * stay unchanged, so their signatures are read from the loaded
 * definitions). `(doc NAME)`, `(apropos TEXT)`, the REPL's :doc and
 * :apropos, and docs/reference.md (sx-docgen) all read these tables.
 *
 * Signatures follow one convention, which the tests check against each
 * primitive's arity: required parameters by name, an optional one in
 * brackets ("[default]"), any number of further arguments as "x ...".
 */
#ifndef SX_DOC_H
#define SX_DOC_H

#include "sx_vm.h"

#include <stdio.h>

typedef struct sx_doc_entry {
  const char *name;
  const char *sig; /* "(get d key [default])"; NULL: read from the definition */
  const char *doc; /* one line */
} sx_doc_entry;

typedef struct sx_doc_section {
  const char *title;
  const sx_doc_entry *entries;
  size_t n;
} sx_doc_section;

/* The builtins, by section (special forms first). */
const sx_doc_section *sx_doc_builtin_sections(size_t *count);
/* The persist library's public names (signatures NULL). */
const sx_doc_entry *sx_doc_persist_entries(size_t *count);
/* The entry documenting name, builtin or persist, or NULL. */
const sx_doc_entry *sx_doc_find(const char *name);

/* The signature and description of name as bound in vm: from its entry,
 * else from its definition ("no description" when nothing says more).
 * False with *err an error value when name is neither bound nor a special
 * form. */
bool sx_doc_describe(sx_vm *vm, const char *name, sx_buf *sig, sx_buf *doc, sx_val *err);

/* docs/reference.md: every builtin and persist description as Markdown. */
void sx_doc_markdown(FILE *out);

/* The minimum and maximum (-1: any) number of arguments a signature
 * takes; false when sig is not of the form "(name param ...)". */
bool sx_doc_sig_arity(const char *sig, int *min, int *max);

/* Define %doc and apropos in vm (the doc macro is in the prelude). */
void sx_lib_doc_install(sx_vm *vm);

#endif
