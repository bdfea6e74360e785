/* anvil: open connections and AUTH commands per client address, across
 * smtpd workers. */
#ifndef TLSRELAY_ANVIL_H
#define TLSRELAY_ANVIL_H

/* ---- connection counting across workers (src/smtpd/anvil.c) ---- */

/* A table in shared memory, created by the supervisor before it forks the
 * workers, counting open connections per client address over all workers
 * (smtpd_client_connection_count_limit). Each worker owns one column, so
 * the supervisor can clear the counts of a worker that died. */
struct anvil;

struct anvil *anvil_create(int max_workers);
void anvil_destroy(struct anvil *anvil);
/* Counts a new connection; returns the client's total after counting. */
int anvil_connect(struct anvil *anvil, int worker, const char *addr);
void anvil_disconnect(struct anvil *anvil, int worker, const char *addr);
void anvil_worker_reset(struct anvil *anvil, int worker);
/* The connections open now over all workers (the supervisor's STATUS=). */
int anvil_total(struct anvil *anvil);
/* Counts an AUTH command of addr on service (smtpd_client_auth_rate_limit)
 * and returns the count in the current window of unit seconds (Postfix's
 * anvil_rate_time_unit), this one included. */
int anvil_auth(struct anvil *anvil, const char *service, const char *addr,
    long long unit);

#endif
