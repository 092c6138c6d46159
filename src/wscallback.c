/* The libwebsockets callback of a websocket: what each thing lws reports
 * does to the connection. Messages are reassembled and handed to dispatch.c;
 * the write queue is emptied one message per writable callback; a failed
 * upgrade, TLS refusal or close is put in words. Nothing here waits, raises
 * or calls Lua. */
#include <string.h>

#include <libwebsockets.h>

#include "errors.h"
#include "dispatch.h"
#include "websocket.h"

/* ---- Output queue ------------------------------------------------------ */

void ei_websocket_send(ei_websocket *ws, const char *p, size_t n)
{
	uint32_t len = (uint32_t)n;
	if (ei_buf_reserve(&ws->out, sizeof len + n) < 0)
		return; /* out of memory: the ping timer or the next hello retries */
	ei_buf_append(&ws->out, &len, sizeof len);
	ei_buf_append(&ws->out, p, n);
	if (ws->wsi && ws->phase == EI_PH_WEBSOCKET)
		lws_callback_on_writable(ws->wsi);
}

static int write_one(ei_websocket *ws, struct lws *wsi)
{
	if (!ei_websocket_out_pending(ws))
		return 0;
	uint32_t len;
	memcpy(&len, ws->out.p + ws->out_head, sizeof len);
	ws->tx.len = 0;
	if (ei_buf_reserve(&ws->tx, LWS_PRE + len) < 0)
		return 0;
	unsigned char *frame = (unsigned char *)ws->tx.p + LWS_PRE;
	memcpy(frame, ws->out.p + ws->out_head + sizeof len, len);
	ws->out_head += sizeof len + len;
	if (ws->out_head == ws->out.len)
		ws->out_head = ws->out.len = 0;
	if (lws_write(wsi, frame, len, LWS_WRITE_TEXT) < (int)len)
		return -1;
	if (ei_websocket_out_pending(ws))
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- Incoming messages ------------------------------------------------- */

/* A piece of a websocket message; messages are reassembled, bounded by max_frame. */
static int on_receive(ei_websocket *ws, struct lws *wsi, const char *in, size_t len)
{
	int first = !ws->in_message, final = lws_is_final_fragment(wsi);
	if (first) {
		ws->rx.len = 0;
		ws->message_binary = lws_frame_is_binary(wsi);
		ws->in_message = 1;
	}
	ws->rx_bytes += len; /* service() notes the time of the read */
	size_t ahead = final ? 0 : lws_remaining_packet_payload(wsi);
	if (ws->rx.len + len + ahead > ws->opt.max_frame) {
		return ei_websocket_fail(ws, EI_EPROTO, "the server sent a message of more than %zu bytes",
					 ws->opt.max_frame);
	}
	if (final)
		ws->in_message = 0;
	if (ws->message_binary) {
		if (final)
			ws->stats.malformed++;
		return 0;
	}
	if (first && final)
		return ei_dispatch_message(ws, in, len);
	if (ei_buf_append(&ws->rx, in, len) < 0)
		return ei_websocket_fail(ws, EI_ECLOSED, "out of memory reading a message; the connection was closed");
	return final ? ei_dispatch_message(ws, ws->rx.p, ws->rx.len) : 0;
}

/* ---- The callback ------------------------------------------------------ */

static void on_connection_error(ei_websocket *ws, struct lws *wsi, const char *why)
{
	unsigned status = lws_http_client_http_response(wsi);
	why = why && *why ? why : "connection failed";
	if (status == 401 || status == 403)
		ei_websocket_fail(ws, EI_EAUTH, "the server refused the websocket (HTTP %u)", status);
	else if (status >= 300)
		ei_websocket_fail(ws, EI_ECONNECT, "websocket upgrade refused by %s (HTTP %u)", ws->url.host, status);
	else if (ws->cert_failed)
		ei_websocket_fail(ws, EI_ECONNECT,
			   "TLS certificate of %s not accepted (untrusted issuer, self-signed, expired or another host name)",
			   ws->url.host);
	else if (ws->phase == EI_PH_TCP && ws->next_addr < ws->n_addrs)
		ws->try_next = 1;
	else
		ei_websocket_fail(ws, EI_ECONNECT, "cannot connect to %s:%d: %s", ws->url.host, ws->url.port, why);
}

static void on_peer_close(ei_websocket *ws, const unsigned char *in, size_t len)
{
	unsigned code = len >= 2 ? (unsigned)in[0] << 8 | in[1] : 0;
	int rlen = len > 2 ? (int)(len - 2 > 120 ? 120 : len - 2) : 0;
	ei_websocket_fail(ws, EI_ECLOSED, "the server closed the websocket (code %u%s%.*s)", code, rlen ? ": " : "", rlen,
		   (const char *)in + 2);
}

static void on_closed(ei_websocket *ws)
{
	if (ws->phase == EI_PH_WEBSOCKET || ws->state == EI_WS_OPEN)
		ei_websocket_fail(ws, EI_ECLOSED, "the server closed the connection");
	else
		ei_websocket_fail(ws, EI_ECONNECT, "cannot connect to %s:%d: connection closed", ws->url.host, ws->url.port);
	ws->wsi = NULL;
}

static void on_established(ei_websocket *ws, struct lws *wsi)
{
	ws->phase = EI_PH_WEBSOCKET;
	ws->stats.connects++;
	ws->last_rx = ei_now_ms();
	if (ei_websocket_out_pending(ws))
		lws_callback_on_writable(wsi);
}

static int add_user_agent(ei_websocket *ws, struct lws *wsi, void *in, size_t len)
{
	if (!ws->user_agent[0])
		return 0;
	unsigned char **p = in, *end = *p + len;
	return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT, (const unsigned char *)ws->user_agent,
					    (int)strlen(ws->user_agent), p, end)
		       ? -1
		       : 0;
}

static int websocket_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	ei_websocket *ws = ctx ? lws_context_user(ctx) : NULL;
	if (!ws || !wsi || wsi != ws->wsi)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		ws->cert_failed |= len == 0; /* len is OpenSSL's preverify_ok */
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		ws->phase = EI_PH_HANDSHAKE;
		return add_user_agent(ws, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		on_established(ws, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(ws, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return write_one(ws, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		on_connection_error(ws, wsi, in);
		ws->wsi = NULL;
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		on_peer_close(ws, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		on_closed(ws);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols *ei_websocket_protocols(void)
{
	static const struct lws_protocols protocols[] = {
		{ "ei-socket", websocket_callback, 0, EI_WS_RX_CHUNK, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	return protocols;
}

