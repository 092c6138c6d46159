/* The OS part of a client's poll set: one readiness backend per build, chosen
 * by CMake's EI_POLLSET (pollset_epoll.c on Linux, pollset_poll.c on any POSIX
 * system). pollset.c keeps what is common: owners, deadlines, dispatch. */
#ifndef EI_POLLSET_OS_H
#define EI_POLLSET_OS_H

#include <stdint.h>

typedef struct ei_pollset_os ei_pollset_os;

/* One ready descriptor and its EI_POLL_* bits. */
typedef struct ei_poll_ready {
	int fd;
	unsigned revents;
} ei_poll_ready;

/* NULL with errno set when the OS refuses. */
ei_pollset_os *ei_pollset_os_new(void);
void ei_pollset_os_free(ei_pollset_os *os);

/* Watch fd for `events` (EI_POLL_IN | EI_POLL_OUT), or stop watching it when
 * events == 0. `known`: fd was watched before (it may have been closed since).
 * 0, or -1 with errno set. */
int ei_pollset_os_watch(ei_pollset_os *os, int fd, unsigned events, int known);

/* Wait at most timeout_ms (0: not at all, -1: no bound) for watched
 * descriptors; fill at most `max` of `ready`. Returns how many (0 on timeout
 * or a signal), or -1 with errno set. */
int ei_pollset_os_wait(ei_pollset_os *os, int timeout_ms, ei_poll_ready *ready, int max);

/* The descriptor a host polls for reading instead of calling wait. */
int ei_pollset_os_fd(ei_pollset_os *os);

/* How long (ms, -1: no bound) a host that polls that descriptor may wait,
 * given that the watches want a step in `timeout_ms` at the latest. */
int64_t ei_pollset_os_host_timeout(ei_pollset_os *os, int64_t timeout_ms);

#endif
