/*
 * Allocation wrappers that never return NULL.
 *
 * Why: a daemon that runs out of memory cannot serve a call correctly, and
 * checking every allocation for NULL hides the real logic. These wrappers
 * log and abort on failure (a broken invariant, R9), so callers own a
 * valid pointer or the process is gone. Sizes are checked for overflow.
 * Ownership: whatever these return belongs to the caller, freed with free().
 */
#ifndef MERKAZIA_XMALLOC_H
#define MERKAZIA_XMALLOC_H

#include <stddef.h>
#include <stdlib.h>

/* xmalloc.c */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *src, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Free p and set it to NULL. */
#define X_FREE(p)           \
	do {                \
		free(p);    \
		(p) = NULL; \
	} while (0)

#endif
