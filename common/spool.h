/*
 * Durable spool files: records appended one line at a time, fsynced, and
 * read back after a restart.
 *
 * Why: "nothing said is lost". A write that cannot reach its destination
 * (crm-store for the store client, PostgreSQL for crm-store) goes to a
 * spool file of its owner before it is reported as spooled, and is
 * replayed until acknowledged, also after the process was killed. Both
 * spools share this module so they fail and recover the same way.
 *
 * A record is one line without a newline inside (compact JSON). The file
 * is opened O_APPEND and locked with flock(LOCK_EX | LOCK_NB): a second
 * process on the same spool is refused instead of interleaving records.
 * Each append is one write(2) followed by fdatasync(2); a record torn by a
 * crash (no final newline) is cut off when the file is next opened.
 * spool_clear truncates the file once every record is acknowledged.
 * Records are never logged (they carry callers' words).
 */
#ifndef MERKAZIA_SPOOL_H
#define MERKAZIA_SPOOL_H

#include <stddef.h>

#define SPOOL_RECORD_MAX ((size_t)1024 * 1024)

struct spool;

/* spool.c */
char *spool_path(
    const char *state_dir, const char *daemon, const char *instance);
struct spool *spool_open(const char *path);
int spool_append(struct spool *sp, const char *rec, size_t len);
int spool_load(struct spool *sp,
    void (*cb)(const char *rec, size_t len, void *arg), void *arg);
int spool_clear(struct spool *sp);
size_t spool_records(const struct spool *sp);
const char *spool_file(const struct spool *sp);
void spool_close(struct spool *sp);

#endif
