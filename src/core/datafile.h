/* datafile.h: what loom's dataset registry needs from C: SHA-256 of a file (OpenSSL's
 * libcrypto) and HTTP(S)/file downloads through libcurl. Not the registry itself
 * (lua/loom/datasets.lua), nor text reading (loom_read_text in loom.h). */
#ifndef LOOM_DATAFILE_H
#define LOOM_DATAFILE_H

#include <stddef.h>

#include "loom.h"

/* The SHA-256 of the file at path as 64 lowercase hex digits plus NUL in hex[65].
 * LOOM_EIO with a message in error when the file cannot be read. */
loom_status loom_sha256_file(const char *path, char hex[65], char *error, size_t error_size);

/* A download session: one libcurl handle, so consecutive downloads from one host reuse the
 * connection. NULL when libcurl cannot start. */
typedef struct loom_fetcher loom_fetcher;
loom_fetcher *loom_fetcher_new(void);
void loom_fetcher_free(loom_fetcher *f);

/* Download url into the file dest (created or truncated); follows redirects, fails on an
 * HTTP status >= 400 (the status is in the message), gives up after timeout_seconds without
 * progress. *bytes receives the size written. On failure dest may hold a partial file. */
loom_status loom_fetcher_get(loom_fetcher *f, const char *url, const char *dest,
                             long timeout_seconds, size_t *bytes, char *error, size_t error_size);

#endif
