/* The readiness backend for any POSIX system: poll(2) over the watched
 * descriptors.
 *
 * poll(2) has no descriptor that is ready when any of a set is, so the one a
 * host waits on is a wake-up descriptor this set owns (a pipe, wakeup.h). It is readable when
 * the set knows of ready work: `host_timeout` polls the watched descriptors
 * without waiting, and when one is ready it writes a byte there and answers 0.
 * Otherwise, while anything is watched, a host may wait EI_POLL_TICK_MS at
 * most: readiness that comes during its wait is seen at the next step, which
 * polls every descriptor. A waiter that waits inside `step` (the block waiter)
 * waits in one poll(2) over all of them and needs neither. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "pollset.h"
#include "platform/pollset_os.h"
#include "platform/wakeup.h"

/* The longest wait of a host that polls the pipe while descriptors are watched. */
#define EI_POLL_TICK_MS 10

struct ei_pollset_os {
	struct pollfd *fds; /* the watched descriptors, packed */
	int n_fds, cap_fds;
	int *slot; /* indexed by descriptor: its index in fds + 1, 0 when not watched */
	int n_slot;
	ei_wakeup wake; /* what the host polls */
	int woken;      /* it has been signalled since the last wait */
};

ei_pollset_os *ei_pollset_os_new(void)
{
	ei_pollset_os *os = calloc(1, sizeof *os);
	if (!os)
		return NULL;
	if (ei_wakeup_open(&os->wake) < 0) {
		free(os);
		return NULL;
	}
	return os;
}

void ei_pollset_os_free(ei_pollset_os *os)
{
	ei_wakeup_close(&os->wake);
	free(os->fds);
	free(os->slot);
	free(os);
}

static int grow(ei_pollset_os *os, int fd)
{
	if (fd >= os->n_slot) {
		int n = os->n_slot ? os->n_slot : 16;
		while (n <= fd)
			n *= 2;
		int *slot = realloc(os->slot, (size_t)n * sizeof *slot);
		if (!slot)
			return -1;
		memset(slot + os->n_slot, 0, (size_t)(n - os->n_slot) * sizeof *slot);
		os->slot = slot;
		os->n_slot = n;
	}
	if (os->n_fds == os->cap_fds) {
		int n = os->cap_fds ? 2 * os->cap_fds : 8;
		struct pollfd *fds = realloc(os->fds, (size_t)n * sizeof *fds);
		if (!fds)
			return -1;
		os->fds = fds;
		os->cap_fds = n;
	}
	return 0;
}

static void unwatch_at(ei_pollset_os *os, int i)
{
	os->slot[os->fds[i].fd] = 0;
	if (i != --os->n_fds) {
		os->fds[i] = os->fds[os->n_fds];
		os->slot[os->fds[i].fd] = i + 1;
	}
}

int ei_pollset_os_watch(ei_pollset_os *os, int fd, unsigned events, int known)
{
	(void)known; /* a closed descriptor leaves the set at the next poll */
	int at = fd < os->n_slot ? os->slot[fd] : 0;
	if (!events) {
		if (at)
			unwatch_at(os, at - 1);
		return 0;
	}
	if (!at) {
		if (grow(os, fd) < 0)
			return -1;
		os->fds[os->n_fds] = (struct pollfd){ .fd = fd };
		os->slot[fd] = at = ++os->n_fds;
	}
	os->fds[at - 1].events = (short)(((events & EI_POLL_IN) ? POLLIN : 0) | ((events & EI_POLL_OUT) ? POLLOUT : 0));
	return 0;
}

/* Forget descriptors closed while watched (epoll forgets them by itself);
 * walking down, a moved entry has been looked at already. */
static void drop_closed(ei_pollset_os *os)
{
	for (int i = os->n_fds - 1; i >= 0; i--)
		if (os->fds[i].revents & POLLNVAL)
			unwatch_at(os, i);
}

static void unwake(ei_pollset_os *os)
{
	if (!os->woken)
		return;
	ei_wakeup_clear(&os->wake);
	os->woken = 0;
}

int ei_pollset_os_wait(ei_pollset_os *os, int timeout_ms, ei_poll_ready *ready, int max)
{
	unwake(os);
	int n = poll(os->fds, (nfds_t)os->n_fds, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	int got = 0;
	for (int i = 0; i < os->n_fds && n > 0 && got < max; i++) {
		short re = os->fds[i].revents;
		if (!re || (re & POLLNVAL))
			continue;
		ready[got++] = (ei_poll_ready){
			.fd = os->fds[i].fd,
			.revents = ((re & (POLLIN | POLLHUP)) ? EI_POLL_IN : 0) | ((re & POLLOUT) ? EI_POLL_OUT : 0) |
				   ((re & POLLERR) ? EI_POLL_ERR : 0),
		};
	}
	if (n > 0)
		drop_closed(os);
	return got;
}

int ei_pollset_os_fd(ei_pollset_os *os)
{
	return ei_wakeup_fd(&os->wake);
}

/* Whether a watched descriptor is ready now, without waiting. */
static int any_ready(ei_pollset_os *os)
{
	if (poll(os->fds, (nfds_t)os->n_fds, 0) <= 0)
		return 0;
	int ready = 0;
	for (int i = 0; i < os->n_fds; i++)
		ready |= os->fds[i].revents && !(os->fds[i].revents & POLLNVAL);
	drop_closed(os);
	return ready;
}

int64_t ei_pollset_os_host_timeout(ei_pollset_os *os, int64_t timeout_ms)
{
	if (!os->n_fds)
		return timeout_ms;
	if (os->woken)
		return 0;
	if (any_ready(os)) {
		ei_wakeup_signal(&os->wake);
		os->woken = 1;
		return 0;
	}
	return timeout_ms < 0 || timeout_ms > EI_POLL_TICK_MS ? EI_POLL_TICK_MS : timeout_ms;
}
