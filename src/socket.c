/* The Lua binding of the websocket (`ei.Socket`, made by `core.socket`): its
 * options, its methods, and the event tables built from the jobs' queues. The
 * connection itself is websocket.c; nothing here touches libwebsockets.
 * `position` and `stats` are diagnostics: lua/ei does not call them; they show
 * what the socket did (resumption point, counters) to whoever inspects it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "core.h"
#include "jsontext.h"
#include "websocket.h"

#define EI_SOCKET_MT "ei.Socket"

/* Flow bounds: per job, and over all the jobs of a socket (see jobset.c). */
#define DEFAULT_MAX_QUEUE 10000
#define DEFAULT_MAX_QUEUE_BYTES (8u << 20)
#define DEFAULT_MAX_TOTAL 100000
#define DEFAULT_MAX_TOTAL_BYTES (64u << 20)
#define DEFAULT_MAX_FRAME (16u << 20)
#define DEFAULT_PING_MS 5000
#define DEFAULT_HELLO_MS 10000
#define DEFAULT_IDLE_MS 60000
#define DEFAULT_COALESCE_MS 1

static const char *const state_names[] = {
	[EI_WS_IDLE] = "idle", [EI_WS_CONNECTING] = "connecting", [EI_WS_OPEN] = "open", [EI_WS_CLOSED] = "closed"
};

typedef struct {
	ei_websocket ws;
	int closed; /* close() was called */
} ei_socket;

static ei_socket *check_socket(lua_State *L)
{
	ei_socket *s = luaL_checkudata(L, 1, EI_SOCKET_MT);
	if (s->closed)
		luaL_error(L, "attempt to use a closed " EI_SOCKET_MT);
	return s;
}

static int64_t check_job(lua_State *L, int idx)
{
	lua_Integer id = luaL_checkinteger(L, idx);
	luaL_argcheck(L, id >= 0, idx, "job id must be a non-negative integer");
	return (int64_t)id;
}

/* The job at argument 2, or NULL when it is not followed. */
static ei_joblog *opt_job(lua_State *L, ei_socket *s)
{
	return ei_jobset_find(ei_websocket_jobs(&s->ws), check_job(L, 2));
}

static ei_joblog *check_followed(lua_State *L, ei_socket *s)
{
	ei_joblog *jl = opt_job(L, s);
	if (!jl)
		luaL_argerror(L, 2, "job is not followed");
	return jl;
}

/* ---- Options ----------------------------------------------------------- */

static int64_t opt_ms(lua_State *L, int idx, const char *key, int64_t def)
{
	return (int64_t)(ei_opt_seconds(L, idx, key, def / 1000.0, 1e9) * 1000);
}

static size_t opt_size(lua_State *L, int idx, const char *key, size_t def)
{
	lua_getfield(L, idx, key);
	lua_Integer v = lua_isnil(L, -1) ? (lua_Integer)def : luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	if (v <= 0)
		luaL_error(L, "bad option '%s' (a positive integer expected)", key);
	return (size_t)v;
}

static ei_ws_options read_options(lua_State *L, int idx)
{
	ei_ws_options o = {
		.limits = { DEFAULT_MAX_QUEUE, DEFAULT_MAX_QUEUE_BYTES, DEFAULT_MAX_TOTAL, DEFAULT_MAX_TOTAL_BYTES },
		.max_frame = DEFAULT_MAX_FRAME,
		.ping_ms = DEFAULT_PING_MS,
		.hello_ms = DEFAULT_HELLO_MS,
		.idle_ms = DEFAULT_IDLE_MS,
		.coalesce_ms = DEFAULT_COALESCE_MS,
	};
	if (lua_isnoneornil(L, idx))
		return o;
	luaL_checktype(L, idx, LUA_TTABLE);
	o.limits.max_queue = opt_size(L, idx, "max_queue", o.limits.max_queue);
	o.limits.max_queue_bytes = opt_size(L, idx, "max_queue_bytes", o.limits.max_queue_bytes);
	o.limits.max_total = opt_size(L, idx, "max_total", o.limits.max_total);
	o.limits.max_total_bytes = opt_size(L, idx, "max_total_bytes", o.limits.max_total_bytes);
	o.max_frame = opt_size(L, idx, "max_frame", o.max_frame);
	o.ping_ms = opt_ms(L, idx, "ping_interval", o.ping_ms);
	o.hello_ms = opt_ms(L, idx, "hello_timeout", o.hello_ms);
	o.idle_ms = opt_ms(L, idx, "idle_timeout", o.idle_ms);
	double coalesce = ei_opt_seconds(L, idx, "coalesce", o.coalesce_ms / 1000.0, 1e9);
	o.coalesce_ms = (int64_t)ceil(coalesce * 1000); /* 0.0005 s is 1 ms, not 0 */
	if (o.ping_ms < 10)
		luaL_error(L, "bad option 'ping_interval' (at least 0.01 s)");
	if (coalesce > 1)
		luaL_error(L, "bad option 'coalesce' (at most 1 s)");
	return o;
}

/* core.socket(client [, opts]) -> ei.Socket, idle. opts: max_queue (events
 * queued for one job before it overflows, 10000), max_queue_bytes (8 MB),
 * max_total and max_total_bytes (over all jobs, 100000 and 64 MB),
 * max_frame (largest message, 16 MB), ping_interval (5 s), hello_timeout
 * (10 s, also bounds connecting), idle_timeout (60 s without any frame while
 * open; 0 disables), coalesce (0.001 s, at most 1: after a read that took
 * several messages, the next read waits this long; 0 reads at once). */
static int l_socket_new(lua_State *L)
{
	ei_client *c = ei_client_check(L, 1);
	lua_settop(L, 2);
	ei_socket *s = lua_newuserdatauv(L, sizeof *s, 1);
	memset(s, 0, sizeof *s);
	s->closed = 1; /* until fully set up, so __gc is harmless */
	luaL_setmetatable(L, EI_SOCKET_MT);
	ei_ws_options opt = read_options(L, 2);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1); /* the client lives as long as its socket */
	ei_websocket_init(&s->ws, &opt, ei_client_poll(c));
	s->closed = 0;
	return 1;
}

/* ---- Connection -------------------------------------------------------- */

/* sock:connect(url): true, or nil, message, code when it failed at once. */
static int l_socket_connect(lua_State *L)
{
	ei_socket *s = check_socket(L);
	const char *url = luaL_checkstring(L, 2);
	lua_getiuservalue(L, 1, 1);
	ei_client *c = ei_client_check(L, -1);
	lua_pop(L, 1);
	if (!ei_websocket_attached(&s->ws))
		return luaL_error(L, "the client of this socket is closed");
	const char *bad = ei_websocket_connect(&s->ws, url, ei_client_ca_file(c), ei_client_user_agent(c));
	if (bad)
		return luaL_argerror(L, 2, bad);
	const char *msg, *code;
	if (ei_websocket_state(&s->ws, &msg, &code) == EI_WS_CLOSED)
		return ei_fail(L, code, "%s", msg);
	lua_pushboolean(L, 1);
	return 1;
}

/* sock:state() -> "idle" | "connecting" | "open" | "closed", message, code */
static int l_socket_state(lua_State *L)
{
	ei_socket *s = check_socket(L);
	const char *msg, *code;
	ei_ws_state state = ei_websocket_state(&s->ws, &msg, &code);
	lua_pushstring(L, state_names[state]);
	if (state != EI_WS_CLOSED)
		return 1;
	lua_pushstring(L, msg);
	lua_pushstring(L, code);
	return 3;
}

/* sock:follow(job_id): subscribe now if open, and after every reconnect. */
static int l_socket_follow(lua_State *L)
{
	ei_socket *s = check_socket(L);
	if (!ei_websocket_follow(&s->ws, check_job(L, 2)))
		return luaL_error(L, "out of memory");
	lua_pushboolean(L, 1);
	return 1;
}

/* sock:unfollow(job_id) -> true; its queued events are dropped. */
static int l_socket_unfollow(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_websocket_unfollow(&s->ws, check_job(L, 2));
	lua_pushboolean(L, 1);
	return 1;
}

/* ---- Events ------------------------------------------------------------ */

/* The words of event tables, interned once per Lua state as upvalues of next
 * and drain, so that building an event looks no string up. The types follow
 * the order of ei_sev_type. */
enum { W_TYPE = 1, W_JOB, W_LINE, W_EPOCH, W_EPOCHS, W_FRACTION, W_SUCCESS, W_LOG, W_PROGRESS, W_METRICS, W_ENDED, W_END };
static const char *const event_words[W_END] = {
	[W_TYPE] = "type",    [W_JOB] = "job",	   [W_LINE] = "line",	    [W_EPOCH] = "epoch",
	[W_EPOCHS] = "epochs", [W_FRACTION] = "fraction", [W_SUCCESS] = "success", [W_LOG] = "log",
	[W_PROGRESS] = "progress", [W_METRICS] = "metrics", [W_ENDED] = "ended",
};
#define WORD(w) lua_upvalueindex(w)

/* A metric value as a Lua number: nan and inf too. */
static void push_metric_value(lua_State *L, const char *p, size_t n)
{
	char buf[64];
	const char *q = p + (n && (*p == '-' || *p == '+'));
	double sign = n && *p == '-' ? -1.0 : 1.0;
	if ((*q | 0x20) == 'n') {
		lua_pushnumber(L, (lua_Number)NAN);
		return;
	}
	if ((*q | 0x20) == 'i') {
		lua_pushnumber(L, (lua_Number)(sign * HUGE_VAL));
		return;
	}
	snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), p);
	if (!lua_stringtonumber(L, buf))
		lua_pushnumber(L, (lua_Number)strtod(buf, NULL));
}

static void push_metrics(lua_State *L, const char *line, size_t len)
{
	static const char *const reserved[] = { "type", "job", "epoch" };
	size_t pos = 0;
	ei_metric m;
	while (ei_line_metric_next(line, len, &pos, &m)) {
		int skip = 0;
		for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
			skip |= strlen(reserved[i]) == m.name_len && memcmp(reserved[i], m.name, m.name_len) == 0;
		if (skip)
			continue;
		lua_pushlstring(L, m.name, m.name_len);
		push_metric_value(L, m.value, m.value_len);
		lua_rawset(L, -3);
	}
}

/* t[word] = value on top of the stack, t just below it. */
static void set_word(lua_State *L, int word)
{
	lua_pushvalue(L, WORD(word));
	lua_insert(L, -2);
	lua_rawset(L, -3);
}

static void push_event(lua_State *L, const ei_joblog *jl, const ei_sev *e)
{
	static const int fields[] = { [EI_SEV_LOG] = 3, [EI_SEV_PROGRESS] = 5, [EI_SEV_METRICS] = 8, [EI_SEV_ENDED] = 3 };
	lua_createtable(L, 0, fields[e->type]);
	lua_pushvalue(L, WORD(W_TYPE));
	lua_pushvalue(L, WORD(W_LOG + e->type));
	lua_rawset(L, -3);
	lua_pushvalue(L, WORD(W_JOB));
	lua_pushinteger(L, (lua_Integer)jl->job);
	lua_rawset(L, -3);
	switch (e->type) {
	case EI_SEV_LOG:
		lua_pushvalue(L, WORD(W_LINE));
		lua_pushlstring(L, ei_joblog_text(jl, e), e->len);
		lua_rawset(L, -3);
		break;
	case EI_SEV_PROGRESS:
		lua_pushinteger(L, (lua_Integer)e->epoch);
		set_word(L, W_EPOCH);
		lua_pushinteger(L, (lua_Integer)e->epochs);
		set_word(L, W_EPOCHS);
		lua_pushnumber(L, (lua_Number)e->epoch / (lua_Number)e->epochs);
		set_word(L, W_FRACTION);
		break;
	case EI_SEV_METRICS:
		if (e->has_epoch) {
			lua_pushinteger(L, (lua_Integer)e->epoch);
			set_word(L, W_EPOCH);
		}
		push_metrics(L, ei_joblog_text(jl, e), e->len);
		break;
	default:
		lua_pushboolean(L, e->success);
		set_word(L, W_SUCCESS);
		break;
	}
}

/* Take up to max of jl's queued events into the table at `into` (1..n, then
 * t[n + 1] = nil), or into a new table pushed on the stack when into is 0;
 * returns n. With split, an `ended` event comes alone: the batch stops before
 * it, or holds only it. */
static size_t take_batch(lua_State *L, ei_socket *s, ei_joblog *jl, lua_Integer max, int split, int into)
{
	size_t n = jl ? ei_joblog_queued(jl) : 0;
	if ((lua_Unsigned)max < n)
		n = (size_t)max;
	int given = into != 0;
	if (!given) {
		lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0);
		into = lua_gettop(L);
	}
	size_t i = 0;
	if (n) {
		ei_queue_mark before = ei_jobset_mark(jl);
		while (i < n) {
			const ei_sev *e = ei_joblog_peek(jl);
			int alone = split && e->type == EI_SEV_ENDED;
			if (alone && i > 0)
				break;
			push_event(L, jl, e);
			ei_joblog_pop(jl);
			lua_rawseti(L, into, (lua_Integer)++i);
			if (alone)
				break;
		}
		ei_websocket_taken(&s->ws, jl, before);
	}
	if (given) { /* what the table held before ends here */
		lua_pushnil(L);
		lua_rawseti(L, into, (lua_Integer)i + 1);
	}
	return i;
}

/* sock:drain(job_id [, max [, split]]) -> array of up to max events (all by
 * default). With split, an `ended` event comes alone: the array stops before
 * it, or holds only it. */
static int l_socket_drain(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = opt_job(L, s);
	lua_Integer max = luaL_optinteger(L, 3, LUA_MAXINTEGER);
	luaL_argcheck(L, max >= 0, 3, "must be >= 0");
	take_batch(L, s, jl, max, lua_toboolean(L, 4), 0);
	return 1;
}

/* Whether the job is followed the steady way: the socket open, the job
 * keeping its lines. */
static int steady(const ei_socket *s, const ei_joblog *jl)
{
	return jl && ei_websocket_attached(&s->ws) && s->ws.state == EI_WS_OPEN && !jl->overflow;
}

/* The events await took into its table: n, or false for none. */
static int push_taken(lua_State *L, size_t n)
{
	if (n)
		lua_pushinteger(L, (lua_Integer)n);
	else
		lua_pushboolean(L, 0);
	return 1;
}

/* sock:await(job_id, max, until, batch) -> n | false | nil: the steady
 * state's wait, in one call. When the job has no event queued, wait in the
 * client's own system call (ei_poll_step: one round, its descriptors serviced,
 * its timers ticked) until something arrives, at most to `until` (monotonic
 * seconds, core.monotime's clock) or the client's next timer. Then up to max
 * events go into `batch` (a table the caller reuses) as drain(job_id, max,
 * true) would take them: batch[1..n], batch[n + 1] = nil. false when none
 * came (the time passed, a timer or other input woke the wait, a signal
 * interrupted it); nil when the job is not followed the steady way (see
 * steady()), and the caller checks why. It runs no Lua: a caller that may
 * wait through a scheduler never calls it. */
static int l_socket_await(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = opt_job(L, s);
	lua_Integer max = luaL_checkinteger(L, 3);
	luaL_argcheck(L, max > 0, 3, "must be > 0");
	double until = luaL_checknumber(L, 4);
	luaL_checktype(L, 5, LUA_TTABLE);
	if (jl && ei_joblog_queued(jl))
		return push_taken(L, take_batch(L, s, jl, max, 1, 5));
	if (!steady(s, jl)) {
		lua_pushnil(L);
		return 1;
	}
	/* Milliseconds rounded up, so that once they have passed, until has. */
	int64_t now = ei_now_ms();
	int64_t until_ms = until < 1e15 ? (int64_t)ceil(until * 1000) : INT64_MAX;
	if (now < until_ms) {
		int64_t timeout = until_ms - now, timer = ei_poll_step_timeout(s->ws.poll);
		if (timer >= 0 && timer < timeout)
			timeout = timer;
		if (ei_poll_step(s->ws.poll, timeout < 2000000000 ? (int)timeout : 2000000000) < 0)
			return ei_fail(L, EI_EPROTO, "cannot poll the client's descriptors");
		if (ei_joblog_queued(jl))
			return push_taken(L, take_batch(L, s, jl, max, 1, 5));
		if (!steady(s, jl)) {
			lua_pushnil(L);
			return 1;
		}
	}
	lua_pushboolean(L, 0);
	return 1;
}

/* sock:queued(job_id) -> number of events waiting */
static int l_socket_queued(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = opt_job(L, s);
	lua_pushinteger(L, jl ? (lua_Integer)ei_joblog_queued(jl) : 0);
	return 1;
}

/* sock:position(job_id) -> last timestamp or nil, bytes received */
static int l_socket_position(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = opt_job(L, s);
	if (jl && jl->has_ts) {
		double ts = jl->last_ts;
		if (ts == floor(ts) && fabs(ts) < EI_MAX_EXACT)
			lua_pushinteger(L, (lua_Integer)ts);
		else
			lua_pushnumber(L, ts);
	} else {
		lua_pushnil(L);
	}
	lua_pushinteger(L, jl ? (lua_Integer)jl->total : 0);
	return 2;
}

/* ---- Back-fill --------------------------------------------------------- */

/* sock:feed(job_id, text): log text from elsewhere (REST back-fill), parsed
 * like received text and counted in position(). */
static int l_socket_feed(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = check_followed(L, s);
	size_t len;
	const char *text = luaL_checklstring(L, 3, &len);
	ei_queue_mark before = ei_jobset_mark(jl);
	int rc = ei_joblog_backfill(jl, text, len);
	ei_jobset_changed(ei_websocket_jobs(&s->ws), jl, before);
	if (rc < 0)
		return luaL_error(L, "out of memory");
	lua_pushboolean(L, 1);
	return 1;
}

/* sock:flush(job_id): deliver a partial last line. */
static int l_socket_flush(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = check_followed(L, s);
	ei_queue_mark before = ei_jobset_mark(jl);
	int rc = ei_joblog_flush(jl);
	ei_jobset_changed(ei_websocket_jobs(&s->ws), jl, before);
	if (rc < 0)
		return luaL_error(L, "out of memory");
	lua_pushboolean(L, 1);
	return 1;
}

/* sock:lag(job_id) -> nil while the job keeps its lines; when it overflowed,
 * the number of lines lost so far (a back-fill brings them). */
static int l_socket_lag(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = opt_job(L, s);
	if (!jl || !jl->overflow)
		lua_pushnil(L);
	else
		lua_pushinteger(L, (lua_Integer)jl->lost);
	return 1;
}

/* sock:align(job_id, stored_log, last_line|nil, to_end) -> from, to, complete:
 * text:sub(from, to) holds the lines to feed back. Called with the job's queue
 * empty, so that last_line is the last line the stream kept. to_end (the job
 * finished) takes everything after last_line and stops keeping live lines;
 * otherwise the span ends at the last line lost, when the stored log has it. */
static int l_socket_align(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = check_followed(L, s);
	size_t len, anchor_len = 0;
	const char *text = luaL_checklstring(L, 3, &len);
	int to_end = lua_toboolean(L, 5);
	const char *anchor = lua_isnil(L, 4) ? NULL : luaL_checklstring(L, 4, &anchor_len);
	ei_backfill_span span = ei_jobset_align(ei_websocket_jobs(&s->ws), jl, text, len, anchor, anchor_len, to_end);
	lua_pushinteger(L, (lua_Integer)span.from + 1);
	lua_pushinteger(L, (lua_Integer)span.to);
	lua_pushboolean(L, span.complete);
	return 3;
}

/* sock:recover(job_id) -> whether the job keeps its lines again (false: lines
 * were lost after the back-fill was aligned; fetch again). */
static int l_socket_recover(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_joblog *jl = check_followed(L, s);
	lua_pushboolean(L, ei_joblog_recover(jl));
	return 1;
}

/* ---- The socket -------------------------------------------------------- */

/* sock:stats() -> counters: frames, bytes, malformed, ignored,
 * dropped_duplicates, duplicate_bytes, connects, pings_sent, pongs_received,
 * pings_received, flow_stops, reads (reads that took messages), holds (reads
 * that were followed by a coalescing pause), overflows, queued, queued_bytes,
 * reading_paused. */
static int l_socket_stats(lua_State *L)
{
	ei_socket *s = check_socket(L);
	const ei_ws_stats *st = ei_websocket_stats(&s->ws);
	const ei_jobset *js = ei_websocket_jobs(&s->ws);
	const struct {
		const char *name;
		uint64_t value;
	} fields[] = {
		{ "frames", st->frames },
		{ "bytes", st->bytes },
		{ "malformed", st->malformed },
		{ "ignored", st->ignored },
		{ "dropped_duplicates", st->dropped_duplicates },
		{ "duplicate_bytes", st->duplicate_bytes },
		{ "connects", st->connects },
		{ "pings_sent", st->pings_sent },
		{ "pongs_received", st->pongs_received },
		{ "pings_received", st->pings_received },
		{ "flow_stops", st->flow_stops },
		{ "reads", st->reads },
		{ "holds", st->holds },
		{ "overflows", ei_jobset_overflows(js) },
		{ "queued", ei_jobset_queued(js) },
		{ "queued_bytes", ei_jobset_queued_bytes(js) },
	};
	lua_createtable(L, 0, (int)(sizeof fields / sizeof *fields) + 1);
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		lua_pushinteger(L, (lua_Integer)fields[i].value);
		lua_setfield(L, -2, fields[i].name);
	}
	lua_pushboolean(L, ei_websocket_reading_paused(&s->ws));
	lua_setfield(L, -2, "reading_paused");
	return 1;
}

/* sock:close() -> true; idempotent, also __gc and __close. */
static int l_socket_close(lua_State *L)
{
	ei_socket *s = luaL_checkudata(L, 1, EI_SOCKET_MT);
	if (!s->closed)
		ei_websocket_close(&s->ws);
	s->closed = 1;
	lua_pushboolean(L, 1);
	return 1;
}

static int l_socket_tostring(lua_State *L)
{
	ei_socket *s = luaL_checkudata(L, 1, EI_SOCKET_MT);
	const char *msg, *code, *address = ei_websocket_address(&s->ws);
	const char *state = state_names[ei_websocket_state(&s->ws, &msg, &code)];
	if (s->closed)
		lua_pushfstring(L, EI_SOCKET_MT " (closed): %p", (void *)s);
	else if (address[0])
		lua_pushfstring(L, EI_SOCKET_MT " (%s %s): %p", state, address, (void *)s);
	else
		lua_pushfstring(L, EI_SOCKET_MT " (%s): %p", state, (void *)s);
	return 1;
}

void ei_socket_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "connect", l_socket_connect }, { "state", l_socket_state },	    { "follow", l_socket_follow },
		{ "unfollow", l_socket_unfollow }, { "queued", l_socket_queued },   { "position", l_socket_position },
		{ "feed", l_socket_feed },	   { "flush", l_socket_flush },	    { "stats", l_socket_stats },
		{ "close", l_socket_close },	   { "lag", l_socket_lag },	    { "align", l_socket_align },
		{ "recover", l_socket_recover },   { NULL, NULL },
	};
	static const luaL_Reg event_methods[] = {
		{ "drain", l_socket_drain }, { "await", l_socket_await }, { NULL, NULL },
	};
	ei_new_class(L, EI_SOCKET_MT, methods, l_socket_close, l_socket_tostring);
	luaL_getmetatable(L, EI_SOCKET_MT);
	lua_getfield(L, -1, "__index");
	for (int w = 1; w < W_END; w++)
		lua_pushstring(L, event_words[w]);
	luaL_setfuncs(L, event_methods, W_END - 1);
	lua_pop(L, 2);
	lua_pushcfunction(L, l_socket_new);
	lua_setfield(L, -2, "socket");
}
