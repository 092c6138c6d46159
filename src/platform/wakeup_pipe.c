/* The wake-up descriptor as a pipe, for any POSIX system: a signal writes a
 * byte to the write end, the read end is polled. pipe(2) and fcntl rather than
 * pipe2, which older systems lack (POSIX has it only since 2024). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "platform/wakeup.h"

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	int fdfl = fcntl(fd, F_GETFD);
	if (fl < 0 || fdfl < 0)
		return -1;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

int ei_wakeup_open(ei_wakeup *w)
{
	int fds[2];
	w->rfd = w->wfd = -1;
	if (pipe(fds) < 0)
		return -1;
	if (set_flags(fds[0]) < 0 || set_flags(fds[1]) < 0) {
		int saved = errno;
		close(fds[0]);
		close(fds[1]);
		errno = saved;
		return -1;
	}
	w->rfd = fds[0];
	w->wfd = fds[1];
	return 0;
}

int ei_wakeup_fd(const ei_wakeup *w)
{
	return w->rfd;
}

void ei_wakeup_signal(ei_wakeup *w)
{
	char byte = 1;
	ssize_t n = write(w->wfd, &byte, 1);
	(void)n; /* EAGAIN: the pipe is full, so it is readable already */
}

void ei_wakeup_clear(ei_wakeup *w)
{
	char buf[64];
	while (read(w->rfd, buf, sizeof buf) > 0)
		;
}

void ei_wakeup_close(ei_wakeup *w)
{
	if (w->rfd >= 0)
		close(w->rfd);
	if (w->wfd >= 0)
		close(w->wfd);
	w->rfd = w->wfd = -1;
}
