/* pq13_stub.c — a stand-in for libpq 13 for tests/test_pqload.c: a shared
 * object exporting the libpq functions the store needs that existed before
 * version 14, and not the pipeline functions 14 added. None of them is ever
 * called: the store only looks the names up and refuses the library. */
void PQconnectdb(void);
void PQstatus(void);
void PQfinish(void);
void PQerrorMessage(void);
void PQsetNoticeProcessor(void);
void PQexecParams(void);
void PQsendQueryParams(void);
void PQgetResult(void);
void PQconsumeInput(void);

void PQconnectdb(void) {}
void PQstatus(void) {}
void PQfinish(void) {}
void PQerrorMessage(void) {}
void PQsetNoticeProcessor(void) {}
void PQexecParams(void) {}
void PQsendQueryParams(void) {}
void PQgetResult(void) {}
void PQconsumeInput(void) {}
