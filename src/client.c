/* The transport of a client (`ei.core.Client`): one libcurl multi handle whose
 * sockets join one readiness set, so a host waits on a single descriptor. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client.h"

#define EI_CLIENT_MT "ei.core.Client"

struct ei_client {
	ei_poll poll;
	ei_watch curl_watch;
	CURLM *multi;
	int64_t curl_deadline; /* -1: libcurl wants no timer */
	ei_transfer *transfers; /* in flight */
	char *ca_file;
	char *user_agent;
	int insecure;
	int closed;
};

#define CLIENT_OF(w) ((ei_client *)((char *)(w) - offsetof(ei_client, curl_watch)))

static void collect_finished(ei_client *c)
{
	int left;
	CURLMsg *msg;
	if (!c->multi) /* no request yet */
		return;
	while ((msg = curl_multi_info_read(c->multi, &left)))
		if (msg->msg == CURLMSG_DONE) {
			ei_transfer *t = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			if (!t || t->client != c)
				continue;
			ei_client_stop(t);
			t->finish(t, msg->data.result);
		}
}

static void curl_ready(ei_watch *w, int fd, unsigned revents)
{
	ei_client *c = CLIENT_OF(w);
	int mask = ((revents & EI_POLL_IN) ? CURL_CSELECT_IN : 0) | ((revents & EI_POLL_OUT) ? CURL_CSELECT_OUT : 0) |
		   ((revents & EI_POLL_ERR) ? CURL_CSELECT_ERR : 0);
	int running;
	curl_multi_socket_action(c->multi, fd, mask, &running);
}

static int64_t curl_deadline(ei_watch *w)
{
	return CLIENT_OF(w)->curl_deadline;
}

static void curl_tick(ei_watch *w, int64_t now)
{
	ei_client *c = CLIENT_OF(w);
	if (c->curl_deadline >= 0 && now >= c->curl_deadline) {
		int running;
		c->curl_deadline = -1;
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	collect_finished(c);
}

static void curl_orphan(ei_watch *w)
{
	(void)w; /* the client frees its own multi handle */
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	(void)socketp;
	ei_client *c = userp;
	static const unsigned events[] = {
		[CURL_POLL_NONE] = 0,
		[CURL_POLL_IN] = EI_POLL_IN,
		[CURL_POLL_OUT] = EI_POLL_OUT,
		[CURL_POLL_INOUT] = EI_POLL_IN | EI_POLL_OUT,
		[CURL_POLL_REMOVE] = 0,
	};
	ei_poll_fd(&c->poll, fd, events[what], &c->curl_watch);
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	ei_client *c = userp;
	c->curl_deadline = timeout_ms < 0 ? -1 : ei_now_ms() + timeout_ms;
	return 0;
}

ei_client *ei_client_check(lua_State *L, int idx)
{
	ei_client *c = luaL_checkudata(L, idx, EI_CLIENT_MT);
	if (c->closed)
		luaL_error(L, "attempt to use a closed client");
	return c;
}

ei_poll *ei_client_poll(ei_client *c)
{
	return &c->poll;
}

const char *ei_client_ca_file(ei_client *c)
{
	return c->ca_file;
}

const char *ei_client_user_agent(ei_client *c)
{
	return c->user_agent;
}

int ei_client_insecure(ei_client *c)
{
	return c->insecure;
}

/* The multi handle, made on the first transfer: libcurl is loaded only then (libcurl.c). */
static CURLM *multi_of(ei_client *c)
{
	if (!c->multi && (c->multi = curl_multi_init())) {
		curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
		curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
		curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
		curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	}
	return c->multi;
}

int ei_client_start(ei_client *c, ei_transfer *t, CURL *easy)
{
	if (!multi_of(c))
		return -1;
	t->easy = easy;
	t->client = c;
	t->next = c->transfers;
	t->prev = &c->transfers;
	if (c->transfers)
		c->transfers->prev = &t->next;
	c->transfers = t;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);
	curl_multi_add_handle(c->multi, easy);
	return 0;
}

void ei_client_stop(ei_transfer *t)
{
	if (!t->client)
		return;
	curl_multi_remove_handle(t->client->multi, t->easy);
	*t->prev = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = NULL;
	t->prev = NULL;
	t->client = NULL;
}

void ei_client_add_method(lua_State *L, const char *name, lua_CFunction method)
{
	luaL_getmetatable(L, EI_CLIENT_MT);
	lua_getfield(L, -1, "__index");
	lua_pushcfunction(L, method);
	lua_setfield(L, -2, name);
	lua_pop(L, 2);
}

static char *opt_string(lua_State *L, int idx, const char *key)
{
	lua_getfield(L, idx, key);
	const char *s = luaL_opt(L, lua_tostring, -1, NULL);
	if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "option '%s' must be a string", key);
	char *copy = s ? strdup(s) : NULL;
	lua_pop(L, 1);
	return copy;
}

static int l_client_close(lua_State *L)
{
	ei_client *c = luaL_checkudata(L, 1, EI_CLIENT_MT);
	if (c->closed)
		return 0;
	c->closed = 1;
	ei_transfer *t;
	while ((t = c->transfers)) {
		ei_client_stop(t);
		t->abandon(t);
	}
	ei_poll_free(&c->poll);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c->ca_file);
	free(c->user_agent);
	c->multi = NULL;
	c->ca_file = c->user_agent = NULL;
	return 0;
}

static int l_client_new(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	ei_client *c = lua_newuserdatauv(L, sizeof *c, 0);
	memset(c, 0, sizeof *c);
	c->closed = 1; /* until fully built, so __gc has nothing to free */
	luaL_setmetatable(L, EI_CLIENT_MT);
	c->ca_file = opt_string(L, 1, "ca_file");
	c->user_agent = opt_string(L, 1, "user_agent");
	lua_getfield(L, 1, "insecure");
	c->insecure = lua_toboolean(L, -1);
	lua_pop(L, 1);
	c->curl_deadline = -1;
	c->curl_watch = (ei_watch){ .ready = curl_ready, .deadline = curl_deadline, .tick = curl_tick, .orphan = curl_orphan };
	if (ei_poll_init(&c->poll) < 0) {
		c->closed = 0;
		l_client_close(L);
		return luaL_error(L, "cannot create a client: out of resources");
	}
	c->closed = 0;
	ei_poll_attach(&c->poll, &c->curl_watch);
	return 1;
}

static int l_client_pollfd(lua_State *L)
{
	lua_pushinteger(L, ei_poll_host_fd(&ei_client_check(L, 1)->poll));
	return 1;
}

static int l_client_events(lua_State *L)
{
	ei_client_check(L, 1);
	lua_pushliteral(L, "r");
	return 1;
}

/* timeout([inside]): seconds until the client wants a step, or nil. For a
 * host that polls pollfd(), as the backend needs it (the poll backend caps it
 * at a tick while descriptors are watched); with `inside`, for a wait inside
 * step(timeout), which watches every descriptor itself: the deadlines alone. */
static int l_client_timeout(lua_State *L)
{
	ei_client *c = ei_client_check(L, 1);
	int64_t ms = lua_toboolean(L, 2) ? ei_poll_step_timeout(&c->poll) : ei_poll_host_timeout(&c->poll);
	if (ms < 0)
		lua_pushnil(L);
	else
		lua_pushnumber(L, ms / 1000.0);
	return 1;
}

/* step([timeout]): the ready work; with a timeout (seconds), first wait that
 * long at most for a descriptor, in the same system call. */
static int l_client_step(lua_State *L)
{
	ei_client *c = ei_client_check(L, 1);
	if (ei_poll_step(&c->poll, ei_timeout_ms(luaL_optnumber(L, 2, 0))) < 0)
		return ei_fail(L, EI_EPROTO, "cannot poll the client's descriptors");
	lua_pushboolean(L, 1);
	return 1;
}

static int l_client_tostring(lua_State *L)
{
	ei_client *c = luaL_checkudata(L, 1, EI_CLIENT_MT);
	lua_pushfstring(L, "%s (%s%p)", EI_CLIENT_MT, c->closed ? "closed, " : "", (void *)c);
	return 1;
}

void ei_client_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "pollfd", l_client_pollfd }, { "events", l_client_events }, { "timeout", l_client_timeout },
		{ "step", l_client_step },     { "close", l_client_close },   { NULL, NULL },
	};
	ei_new_class(L, EI_CLIENT_MT, methods, l_client_close, l_client_tostring);
	lua_pushcfunction(L, l_client_new);
	lua_setfield(L, -2, "client");
}
