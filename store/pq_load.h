/* pq_load.h — libpq, loaded when the first PostgreSQL store is opened
 * rather than when the program starts: libpq brings libssl, libcrypto,
 * Kerberos and LDAP with it, and relocating them dominated the start-up of
 * every program on a file store. The PQ* names the PostgreSQL backend uses
 * are macros for the entries of pq_api, filled by pq_load. Nothing outside
 * the PostgreSQL backend includes it. */
#ifndef PQ_LOAD_H
#define PQ_LOAD_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "sx_value.h"

/* The libpq functions the backend calls: return type, name, parameters. */
#define PQ_FUNCS(X)                                                                                          \
  X(PGconn *, PQconnectdb, (const char *))                                                                   \
  X(ConnStatusType, PQstatus, (const PGconn *))                                                              \
  X(void, PQfinish, (PGconn *))                                                                              \
  X(char *, PQerrorMessage, (const PGconn *))                                                                \
  X(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn *, PQnoticeProcessor, void *))                          \
  X(PGresult *, PQexecParams,                                                                                \
    (PGconn *, const char *, int, const Oid *, const char *const *, const int *, const int *, int))          \
  X(int, PQsendQueryParams,                                                                                  \
    (PGconn *, const char *, int, const Oid *, const char *const *, const int *, const int *, int))          \
  X(PGresult *, PQgetResult, (PGconn *))                                                                     \
  X(int, PQconsumeInput, (PGconn *))                                                                         \
  X(int, PQenterPipelineMode, (PGconn *))                                                                    \
  X(int, PQexitPipelineMode, (PGconn *))                                                                     \
  X(int, PQpipelineSync, (PGconn *))                                                                         \
  X(ExecStatusType, PQresultStatus, (const PGresult *))                                                      \
  X(char *, PQresultErrorMessage, (const PGresult *))                                                        \
  X(char *, PQresultErrorField, (const PGresult *, int))                                                     \
  X(int, PQntuples, (const PGresult *))                                                                      \
  X(char *, PQcmdTuples, (PGresult *))                                                                       \
  X(char *, PQgetvalue, (const PGresult *, int, int))                                                        \
  X(int, PQgetlength, (const PGresult *, int, int))                                                          \
  X(int, PQgetisnull, (const PGresult *, int, int))                                                          \
  X(void, PQclear, (PGresult *))                                                                             \
  X(PGresult *, PQprepare, (PGconn *, const char *, const char *, int, const Oid *))                         \
  X(PGresult *, PQexecPrepared,                                                                              \
    (PGconn *, const char *, int, const char *const *, const int *, const int *, int))                       \
  X(int, PQsendPrepare, (PGconn *, const char *, const char *, int, const Oid *))                            \
  X(int, PQsendQueryPrepared,                                                                                \
    (PGconn *, const char *, int, const char *const *, const int *, const int *, int))

#define PQ_FIELD(ret, name, params) ret(*name) params;
typedef struct pq_api_table {
  PQ_FUNCS(PQ_FIELD)
} pq_api_table;
#undef PQ_FIELD

extern pq_api_table pq_api;

/* Loads libpq once per process (any thread); later calls return the first
 * outcome. false with *err a message when it cannot be loaded. */
bool pq_load(sx_val *err);

#ifndef PQ_LOAD_IMPL
#define PQconnectdb pq_api.PQconnectdb
#define PQstatus pq_api.PQstatus
#define PQfinish pq_api.PQfinish
#define PQerrorMessage pq_api.PQerrorMessage
#define PQsetNoticeProcessor pq_api.PQsetNoticeProcessor
#define PQexecParams pq_api.PQexecParams
#define PQsendQueryParams pq_api.PQsendQueryParams
#define PQgetResult pq_api.PQgetResult
#define PQconsumeInput pq_api.PQconsumeInput
#define PQenterPipelineMode pq_api.PQenterPipelineMode
#define PQexitPipelineMode pq_api.PQexitPipelineMode
#define PQpipelineSync pq_api.PQpipelineSync
#define PQresultStatus pq_api.PQresultStatus
#define PQresultErrorMessage pq_api.PQresultErrorMessage
#define PQresultErrorField pq_api.PQresultErrorField
#define PQntuples pq_api.PQntuples
#define PQcmdTuples pq_api.PQcmdTuples
#define PQgetvalue pq_api.PQgetvalue
#define PQgetlength pq_api.PQgetlength
#define PQgetisnull pq_api.PQgetisnull
#define PQclear pq_api.PQclear
#define PQprepare pq_api.PQprepare
#define PQexecPrepared pq_api.PQexecPrepared
#define PQsendPrepare pq_api.PQsendPrepare
#define PQsendQueryPrepared pq_api.PQsendQueryPrepared
#endif

#endif
