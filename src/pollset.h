/* One pollable descriptor per client: a readiness set that every socket of
 * the client (libcurl's, the websocket's) joins, plus the deadlines of the
 * parts that keep timers. A host waits on the set's descriptor (what it means
 * depends on the backend: platform/pollset_os.h); `step` does the work. */
#ifndef EI_POLLSET_H
#define EI_POLLSET_H

#include <stdint.h>

#define EI_POLL_IN 1u
#define EI_POLL_OUT 2u
#define EI_POLL_ERR 4u

/* Most descriptors dispatched by one step; the rest wait for the next. */
#define EI_POLL_BATCH 64

typedef struct ei_watch ei_watch;

/* A part of a client that owns descriptors and timers. */
struct ei_watch {
	/* A descriptor of this watch is ready (EI_POLL_* bits). */
	void (*ready)(ei_watch *w, int fd, unsigned revents);
	/* Milliseconds on ei_now_ms()'s clock when this watch wants `tick`, or -1. */
	int64_t (*deadline)(ei_watch *w);
	/* Called on every step after descriptors are dispatched. */
	void (*tick)(ei_watch *w, int64_t now);
	/* The poll set is being freed (its client closes): drop every reference to it. */
	void (*orphan)(ei_watch *w);
	ei_watch *next;
};

typedef struct ei_pollset_os ei_pollset_os;

typedef struct ei_poll {
	ei_pollset_os *os; /* the backend's part; NULL until ei_poll_init */
	ei_watch **owners; /* indexed by descriptor */
	int n_owners;
	ei_watch *watches;
} ei_poll;

int64_t ei_now_ms(void);

/* Seconds (negative: no bound) as poll(2) milliseconds, rounded up. */
int ei_timeout_ms(double seconds);

/* 0 on success, -1 with errno set. A zeroed ei_poll may be freed uninitialised. */
int ei_poll_init(ei_poll *p);
void ei_poll_free(ei_poll *p);

void ei_poll_attach(ei_poll *p, ei_watch *w);
void ei_poll_detach(ei_poll *p, ei_watch *w);

/* Watch fd for `events` on behalf of w; events == 0 stops watching it. */
int ei_poll_fd(ei_poll *p, int fd, unsigned events, ei_watch *w);

/* Wait at most timeout_ms (0: not at all, -1: no bound) for a descriptor,
 * dispatch whatever is ready, then tick every watch. One system call: a host
 * that waits here needs no poll(2) of its own on the host descriptor. */
int ei_poll_step(ei_poll *p, int timeout_ms);

/* The earliest deadline of all watches, or -1. */
int64_t ei_poll_deadline(ei_poll *p);

/* The descriptor a host that runs its own loop polls for reading. */
int ei_poll_host_fd(ei_poll *p);

/* Milliseconds (-1: no bound) a host may wait on ei_poll_host_fd before it
 * steps: the deadlines, shortened where the backend needs it (pollset_poll.c). */
int64_t ei_poll_host_timeout(ei_poll *p);

/* Milliseconds (-1: no bound) until the earliest deadline, for a wait inside
 * ei_poll_step, which watches every descriptor itself. */
int64_t ei_poll_step_timeout(ei_poll *p);

#endif
