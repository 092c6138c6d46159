/* Name resolution on a thread (resolve.h). The record is shared by the thread
 * and the caller, each holding a reference; the last one to let go frees it.
 * The thread sets `done` before it signals the wake-up descriptor, so whoever
 * sees the descriptor readable, or `done` set, may read the answer. */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "platform/wakeup.h"
#include "resolve.h"

struct ei_resolve {
	atomic_int refs;
	atomic_int done;
	ei_wakeup wakeup;
	int err;
	char host[256], port[8];
	ei_addr addrs[EI_RESOLVE_MAX];
	int n_addrs;
};

void ei_resolve_release(ei_resolve *r)
{
	if (atomic_fetch_sub(&r->refs, 1) == 1) {
		ei_wakeup_close(&r->wakeup);
		free(r);
	}
}

static void *resolve_main(void *arg)
{
	ei_resolve *r = arg;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	r->err = getaddrinfo(r->host, r->port, &hints, &res);
	for (const struct addrinfo *ai = r->err ? NULL : res; ai && r->n_addrs < EI_RESOLVE_MAX; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
							  : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		if (inet_ntop(ai->ai_family, a, r->addrs[r->n_addrs], sizeof r->addrs[0]))
			r->n_addrs++;
	}
	if (!r->err)
		freeaddrinfo(res);
	atomic_store(&r->done, 1);
	ei_wakeup_signal(&r->wakeup);
	ei_resolve_release(r);
	return NULL;
}

/* A detached thread that takes none of the host's signals. */
static int start_thread(ei_resolve *r)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	if (pthread_attr_init(&attr) != 0)
		return -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &attr, resolve_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

ei_resolve *ei_resolve_start(const char *host, int port)
{
	ei_resolve *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	atomic_init(&r->refs, 2);
	atomic_init(&r->done, 0);
	snprintf(r->host, sizeof r->host, "%s", host);
	snprintf(r->port, sizeof r->port, "%d", port);
	if (ei_wakeup_open(&r->wakeup) < 0) {
		free(r);
		return NULL;
	}
	if (start_thread(r) < 0) {
		ei_wakeup_close(&r->wakeup);
		free(r);
		return NULL;
	}
	return r;
}

int ei_resolve_fd(const ei_resolve *r)
{
	return ei_wakeup_fd(&r->wakeup);
}

int ei_resolve_done(const ei_resolve *r)
{
	return atomic_load(&r->done);
}

int ei_resolve_addrs(const ei_resolve *r, ei_addr *addrs, const char **error)
{
	*error = r->err ? gai_strerror(r->err) : r->n_addrs ? NULL : "no address";
	if (r->err)
		return 0;
	memcpy(addrs, r->addrs, (size_t)r->n_addrs * sizeof *addrs);
	return r->n_addrs;
}

int ei_resolve_numeric(const char *host, ei_addr out)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, host, buf) == 1)
		return inet_ntop(AF_INET, buf, out, sizeof(ei_addr)) != NULL;
	return inet_pton(AF_INET6, host, buf) == 1 && inet_ntop(AF_INET6, buf, out, sizeof(ei_addr)) != NULL;
}
