/* SHA-256 (FIPS 180-4), for checksums of what the client streams to disk. */
#ifndef EI_SHA256_H
#define EI_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char block[64];
	size_t fill;
} ei_sha256;

void ei_sha256_init(ei_sha256 *s);
void ei_sha256_update(ei_sha256 *s, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL. */
void ei_sha256_hex(ei_sha256 *s, char out[65]);

#endif
