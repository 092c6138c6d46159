/* The wake-up descriptor as a Linux eventfd: one descriptor, a counter that
 * signals add to and a read empties. */
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "platform/wakeup.h"

int ei_wakeup_open(ei_wakeup *w)
{
	w->rfd = w->wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return w->rfd < 0 ? -1 : 0;
}

int ei_wakeup_fd(const ei_wakeup *w)
{
	return w->rfd;
}

void ei_wakeup_signal(ei_wakeup *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->wfd, &one, sizeof one);
	(void)n; /* only fails when the counter is full: it is readable then */
}

void ei_wakeup_clear(ei_wakeup *w)
{
	uint64_t count;
	ssize_t n = read(w->rfd, &count, sizeof count);
	(void)n; /* EAGAIN: nothing was signalled */
}

void ei_wakeup_close(ei_wakeup *w)
{
	if (w->rfd >= 0)
		close(w->rfd);
	w->rfd = w->wfd = -1;
}
