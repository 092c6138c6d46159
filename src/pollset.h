/* One pollable descriptor per client: an epoll set that every socket of the
 * client (libcurl's, the websocket's) joins, plus the deadlines of the parts
 * that keep timers. Lua waits on the epoll descriptor; `step` does the work. */
#ifndef EI_POLLSET_H
#define EI_POLLSET_H

#include <stdint.h>

#define EI_POLL_IN 1u
#define EI_POLL_OUT 2u
#define EI_POLL_ERR 4u

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

typedef struct ei_poll {
	int epfd;
	ei_watch **owners; /* indexed by descriptor */
	int n_owners;
	ei_watch *watches;
} ei_poll;

int64_t ei_now_ms(void);

/* Seconds (negative: no bound) as poll(2) milliseconds, rounded up. */
int ei_timeout_ms(double seconds);

/* 0 on success, -1 with errno set. */
int ei_poll_init(ei_poll *p);
void ei_poll_free(ei_poll *p);

void ei_poll_attach(ei_poll *p, ei_watch *w);
void ei_poll_detach(ei_poll *p, ei_watch *w);

/* Watch fd for `events` on behalf of w; events == 0 stops watching it. */
int ei_poll_fd(ei_poll *p, int fd, unsigned events, ei_watch *w);

/* Wait at most timeout_ms (0: not at all, -1: no bound) for a descriptor,
 * dispatch whatever is ready, then tick every watch. One epoll_wait: a host
 * that waits here needs no poll(2) of its own on the epoll descriptor. */
int ei_poll_step(ei_poll *p, int timeout_ms);

/* The earliest deadline of all watches, or -1. */
int64_t ei_poll_deadline(ei_poll *p);

#endif
