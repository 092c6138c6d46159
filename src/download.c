/* A response body streamed to a file (see download.h). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "download.h"

int ei_download_open(ei_download *d, const char *path, const void *tag)
{
	struct stat st;
	memset(d, 0, sizeof *d);
	/* The rename would replace whatever is there: a device (/dev/null), a pipe or a
	 * socket is never taken for a file to overwrite. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EEXIST;
		return -1;
	}
	size_t n = strlen(path) + 64;
	d->path = strdup(path);
	d->tmp = malloc(n);
	if (!d->path || !d->tmp) {
		ei_download_discard(d);
		errno = ENOMEM;
		return -1;
	}
	/* Unique per process and request; O_EXCL never takes over a file that exists. The
	 * mode is the usual 0666 less the umask, as the final file would have. */
	snprintf(d->tmp, n, "%s.%ld-%p.part", path, (long)getpid(), tag);
	int fd = open(d->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 || !(d->file = fdopen(fd, "wb"))) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlink(d->tmp);
		}
		free(d->tmp);
		d->tmp = NULL;
		ei_download_discard(d);
		errno = e;
		return -1;
	}
	ei_sha256_init(&d->sha);
	return 0;
}

size_t ei_download_write(ei_download *d, const char *data, size_t n)
{
	if (d->error || !d->file)
		return 0;
	if (fwrite(data, 1, n, d->file) != n) {
		d->error = errno ? errno : EIO;
		return 0;
	}
	ei_sha256_update(&d->sha, data, n);
	d->size += n;
	return n;
}

int ei_download_commit(ei_download *d)
{
	if (d->sha256[0])
		return 0;
	if (!d->file) {
		errno = EBADF;
		return -1;
	}
	int e = d->error;
	if (!e && fclose(d->file) != 0)
		e = errno;
	else if (e)
		fclose(d->file);
	d->file = NULL;
	if (!e && rename(d->tmp, d->path) != 0)
		e = errno;
	if (e) {
		ei_download_discard(d);
		errno = e;
		return -1;
	}
	ei_sha256_hex(&d->sha, d->sha256);
	free(d->tmp);
	d->tmp = NULL;
	return 0;
}

void ei_download_discard(ei_download *d)
{
	if (d->file)
		fclose(d->file);
	if (d->tmp)
		unlink(d->tmp);
	free(d->tmp);
	free(d->path);
	d->file = NULL;
	d->tmp = d->path = NULL;
}
