/* A wake-up descriptor: one thread signals it, another polls it for input. The
 * resolver thread wakes the client with one, and the poll(2) backend hands one to
 * hosts. A backend per file (wakeup_eventfd.c on Linux, wakeup_pipe.c anywhere
 * POSIX), chosen by the build (CMake's EI_WAKEUP). Both ends are close-on-exec and non-blocking. */
#ifndef EI_WAKEUP_H
#define EI_WAKEUP_H

/* The backend's descriptors; read them through the functions below. */
typedef struct {
	int rfd, wfd; /* the same descriptor for an eventfd */
} ei_wakeup;

/* 0, or -1 with errno set (and both descriptors -1). */
int ei_wakeup_open(ei_wakeup *w);

/* The descriptor to poll for input. */
int ei_wakeup_fd(const ei_wakeup *w);

/* Make the descriptor readable; safe from any thread, never blocks. */
void ei_wakeup_signal(ei_wakeup *w);

/* Make it unreadable again, consuming every signal so far. */
void ei_wakeup_clear(ei_wakeup *w);

/* Idempotent. */
void ei_wakeup_close(ei_wakeup *w);

#endif
