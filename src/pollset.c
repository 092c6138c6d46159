/* What every readiness backend shares: which watch owns each descriptor, the
 * deadlines, dispatch and ticks, the clock. The OS part is in platform/. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "pollset.h"
#include "platform/pollset_os.h"

int64_t ei_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ei_timeout_ms(double seconds)
{
	return seconds < 0 ? -1 : seconds > 2e6 ? 2000000000 : (int)(seconds * 1000 + 0.999);
}

int ei_poll_init(ei_poll *p)
{
	memset(p, 0, sizeof *p);
	p->os = ei_pollset_os_new();
	return p->os ? 0 : -1;
}

void ei_poll_free(ei_poll *p)
{
	while (p->watches) {
		ei_watch *w = p->watches;
		ei_poll_detach(p, w);
		w->orphan(w);
	}
	if (p->os)
		ei_pollset_os_free(p->os);
	free(p->owners);
	memset(p, 0, sizeof *p);
}

void ei_poll_attach(ei_poll *p, ei_watch *w)
{
	w->next = p->watches;
	p->watches = w;
}

void ei_poll_detach(ei_poll *p, ei_watch *w)
{
	for (ei_watch **at = &p->watches; *at; at = &(*at)->next)
		if (*at == w) {
			*at = w->next;
			break;
		}
	for (int fd = 0; fd < p->n_owners; fd++)
		if (p->owners[fd] == w)
			ei_poll_fd(p, fd, 0, w);
}

static int grow_owners(ei_poll *p, int fd)
{
	if (fd < p->n_owners)
		return 0;
	int n = p->n_owners ? p->n_owners : 16;
	while (n <= fd)
		n *= 2;
	ei_watch **owners = realloc(p->owners, (size_t)n * sizeof *owners);
	if (!owners)
		return -1;
	memset(owners + p->n_owners, 0, (size_t)(n - p->n_owners) * sizeof *owners);
	p->owners = owners;
	p->n_owners = n;
	return 0;
}

int ei_poll_fd(ei_poll *p, int fd, unsigned events, ei_watch *w)
{
	if (fd < 0 || !p->os || grow_owners(p, fd) < 0)
		return -1;
	int known = p->owners[fd] != NULL;
	if (!events) {
		/* A descriptor closed under its watch (lws closes its socket itself) may
		 * have been reused and watched by another part before this one let go:
		 * that one's watch stays. */
		if (known && p->owners[fd] != w)
			return 0;
		p->owners[fd] = NULL;
		return ei_pollset_os_watch(p->os, fd, 0, known);
	}
	if (ei_pollset_os_watch(p->os, fd, events, known) < 0)
		return -1;
	p->owners[fd] = w;
	return 0;
}

int ei_poll_step(ei_poll *p, int timeout_ms)
{
	ei_poll_ready ready[EI_POLL_BATCH];
	int n = ei_pollset_os_wait(p->os, timeout_ms, ready, EI_POLL_BATCH);
	if (n < 0)
		return -1;
	/* A watch may drop another's descriptor while this one's is dispatched:
	 * the owner is looked up for each in turn. */
	for (int i = 0; i < n; i++) {
		int fd = ready[i].fd;
		ei_watch *w = fd < p->n_owners ? p->owners[fd] : NULL;
		if (w)
			w->ready(w, fd, ready[i].revents);
	}
	int64_t now = ei_now_ms();
	for (ei_watch *w = p->watches, *next; w; w = next) {
		next = w->next;
		w->tick(w, now);
	}
	return n;
}

int64_t ei_poll_deadline(ei_poll *p)
{
	int64_t soonest = -1;
	for (ei_watch *w = p->watches; w; w = w->next) {
		int64_t d = w->deadline(w);
		if (d >= 0 && (soonest < 0 || d < soonest))
			soonest = d;
	}
	return soonest;
}

int64_t ei_poll_step_timeout(ei_poll *p)
{
	int64_t deadline = ei_poll_deadline(p);
	if (deadline < 0)
		return -1;
	int64_t left = deadline - ei_now_ms();
	return left > 0 ? left : 0;
}

int ei_poll_host_fd(ei_poll *p)
{
	return ei_pollset_os_fd(p->os);
}

int64_t ei_poll_host_timeout(ei_poll *p)
{
	return ei_pollset_os_host_timeout(p->os, ei_poll_step_timeout(p));
}

/* core.poll(fd, events, timeout): the one blocking wait, used by Lua's block
 * waiter and by ei.run; returns the events that are ready ("" on timeout). */
static int l_poll_wait(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	const char *events = luaL_optstring(L, 2, "r");
	double timeout = luaL_optnumber(L, 3, -1);
	struct pollfd pfd = { .fd = fd };
	pfd.events = (strchr(events, 'r') ? POLLIN : 0) | (strchr(events, 'w') ? POLLOUT : 0);
	int ms = ei_timeout_ms(timeout);
	int n = poll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, ms);
	if (n < 0 && errno != EINTR)
		return ei_fail(L, EI_EPROTO, "poll: %s", strerror(errno));
	const char *ready = "";
	if (n > 0)
		ready = (pfd.revents & (POLLIN | POLLHUP | POLLERR)) ? ((pfd.revents & POLLOUT) ? "rw" : "r") : "w";
	lua_pushstring(L, ready);
	return 1;
}

/* core.poll_many({fd, events, fd, events, ...}, timeout): wait for any of
 * several descriptors; returns an array of the ready events per pair. */
static int l_poll_many(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	double timeout = luaL_optnumber(L, 2, -1);
	lua_Integer pairs = luaL_len(L, 1) / 2;
	luaL_argcheck(L, pairs <= 65536, 1, "too many descriptors");
	struct pollfd *pfds = lua_newuserdatauv(L, (size_t)(pairs ? pairs : 1) * sizeof *pfds, 0);
	for (lua_Integer i = 0; i < pairs; i++) {
		lua_geti(L, 1, 2 * i + 1);
		lua_geti(L, 1, 2 * i + 2);
		const char *events = luaL_optstring(L, -1, "r");
		pfds[i] = (struct pollfd){ .fd = (int)luaL_checkinteger(L, -2) };
		pfds[i].events = (strchr(events, 'r') ? POLLIN : 0) | (strchr(events, 'w') ? POLLOUT : 0);
		lua_pop(L, 2);
	}
	int ms = ei_timeout_ms(timeout);
	int n = poll(pfds, (nfds_t)pairs, ms);
	if (n < 0 && errno != EINTR)
		return ei_fail(L, EI_EPROTO, "poll: %s", strerror(errno));
	lua_createtable(L, (int)pairs, 0);
	for (lua_Integer i = 0; i < pairs; i++) {
		short re = n > 0 ? pfds[i].revents : 0;
		int r = (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0, w = (re & POLLOUT) != 0;
		lua_pushstring(L, r ? (w ? "rw" : "r") : (w ? "w" : ""));
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* core.monotime(): seconds on a monotonic clock, for Lua's deadlines. */
static int l_poll_monotime(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec / 1e9);
	return 1;
}

void ei_poll_open(lua_State *L)
{
	static const luaL_Reg fns[] = { { "poll", l_poll_wait }, { "poll_many", l_poll_many }, { "monotime", l_poll_monotime }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
