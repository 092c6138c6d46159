/* A response body streamed to a file: written under a temporary name beside the
 * target, hashed as it goes, and renamed onto the target only when it is complete. */
#ifndef EI_DOWNLOAD_H
#define EI_DOWNLOAD_H

#include <stdint.h>
#include <stdio.h>

#include "sha256.h"

typedef struct {
	FILE *file;
	char *path, *tmp;
	ei_sha256 sha;
	uint64_t size;
	int error;  /* errno of a failed write; 0: none */
	char sha256[65];  /* hex, once committed */
} ei_download;

/* Create the temporary file for path. 0, or -1 with errno set (d is then empty):
 * EISDIR or EEXIST when path is a directory or another file that is not regular. */
int ei_download_open(ei_download *d, const char *path, const void *tag);
/* Append n bytes (from a libcurl write callback: no Lua). n, or 0 after a failure. */
size_t ei_download_write(ei_download *d, const char *data, size_t n);
/* Close, rename onto the target and set sha256; idempotent. 0, or -1 with errno set
 * (the temporary file is then removed). */
int ei_download_commit(ei_download *d);
/* Close and remove the temporary file, if any. Idempotent. */
void ei_download_discard(ei_download *d);

#endif
