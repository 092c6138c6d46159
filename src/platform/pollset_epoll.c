/* The readiness backend on Linux: an epoll set. Its descriptor is readable
 * whenever a watched descriptor is ready, so a host waits on it alone and
 * `step` waits in one epoll_wait. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "pollset.h"
#include "platform/pollset_os.h"

struct ei_pollset_os {
	int epfd;
};

ei_pollset_os *ei_pollset_os_new(void)
{
	ei_pollset_os *os = malloc(sizeof *os);
	if (!os)
		return NULL;
	os->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (os->epfd < 0) {
		free(os);
		return NULL;
	}
	return os;
}

void ei_pollset_os_free(ei_pollset_os *os)
{
	close(os->epfd);
	free(os);
}

static uint32_t epoll_bits(unsigned events)
{
	return ((events & EI_POLL_IN) ? EPOLLIN : 0) | ((events & EI_POLL_OUT) ? EPOLLOUT : 0);
}

int ei_pollset_os_watch(ei_pollset_os *os, int fd, unsigned events, int known)
{
	struct epoll_event ev = { .events = epoll_bits(events), .data.fd = fd };
	if (!events) {
		/* The descriptor may already be closed, which removed it from the set. */
		if (known && epoll_ctl(os->epfd, EPOLL_CTL_DEL, fd, &ev) < 0 && errno != EBADF && errno != ENOENT)
			return -1;
		return 0;
	}
	if (epoll_ctl(os->epfd, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
		/* A descriptor number reused after close is new to epoll. */
		if (!known || errno != ENOENT || epoll_ctl(os->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -1;
	}
	return 0;
}

static unsigned ei_bits(uint32_t events)
{
	return ((events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) ? EI_POLL_IN : 0) |
	       ((events & EPOLLOUT) ? EI_POLL_OUT : 0) | ((events & EPOLLERR) ? EI_POLL_ERR : 0);
}

int ei_pollset_os_wait(ei_pollset_os *os, int timeout_ms, ei_poll_ready *ready, int max)
{
	struct epoll_event evs[EI_POLL_BATCH];
	int n = epoll_wait(os->epfd, evs, max < EI_POLL_BATCH ? max : EI_POLL_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++)
		ready[i] = (ei_poll_ready){ .fd = evs[i].data.fd, .revents = ei_bits(evs[i].events) };
	return n;
}

int ei_pollset_os_fd(ei_pollset_os *os)
{
	return os->epfd;
}

int64_t ei_pollset_os_host_timeout(ei_pollset_os *os, int64_t timeout_ms)
{
	(void)os; /* the epoll descriptor itself wakes the host */
	return timeout_ms;
}
