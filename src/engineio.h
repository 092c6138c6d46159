/* Engine.IO v3 / Socket.IO v2 text frames, as pure functions over bytes. */
#ifndef EI_ENGINEIO_H
#define EI_ENGINEIO_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"

/* What a text frame is, from its leading type digits. */
typedef enum {
	EI_EIO_MALFORMED,
	EI_EIO_OPEN,	   /* 0{json} */
	EI_EIO_CLOSE,	   /* 1 */
	EI_EIO_PING,	   /* 2 */
	EI_EIO_PONG,	   /* 3 */
	EI_EIO_UPGRADE,	   /* 5 */
	EI_EIO_NOOP,	   /* 6 */
	EI_EIO_CONNECT,	   /* 40 */
	EI_EIO_DISCONNECT, /* 41 */
	EI_EIO_EVENT,	   /* 42[...] on the default namespace */
	EI_EIO_ACK,	   /* 43 */
	EI_EIO_ERROR,	   /* 44 */
	EI_EIO_BINARY,	   /* 45, 46: attachments follow in binary frames */
	EI_EIO_OTHER_NSP,  /* a Socket.IO packet for a namespace other than "/" */
	EI_EIO_KINDS
} ei_eio_kind;

typedef struct {
	ei_eio_kind kind;
	const char *body; /* the JSON after the type digits (and namespace, ack id) */
	size_t body_len;
} ei_eio_packet;

/* Classify a text frame; never reads past p[n-1]. */
ei_eio_packet ei_eio_parse(const char *p, size_t n);

/* The Socket.IO events the websocket API uses. */
typedef enum {
	EI_EV_MALFORMED, /* not a JSON array starting with a string */
	EI_EV_OTHER,	 /* an event nobody asked for: ignored */
	EI_EV_HELLO,
	EI_EV_JOB_DATA,
	EI_EV_JOB_FINISHED,
} ei_ev_kind;

typedef struct {
	ei_ev_kind kind;
	int64_t job; /* job-data-<id>, job-finished-<id>, or jobId of a bare job-finished */
	int has_job;
	int64_t bare_job; /* the payload's jobId */
	int has_bare_job;
	const char *data; /* job-data text: points into the frame or into the scratch buffer */
	size_t data_len;
	int has_ts;
	double ts;
	int success;	   /* job-finished: 1, 0, or -1 when absent */
	int hello_version; /* hello: hello.version, or -1 */
} ei_eio_event;

/* Parse the body of an EI_EIO_EVENT packet (`["name",{...}]`). JSON string
 * escapes are decoded into `scratch` when the text has any. A fast path handles
 * the flat objects of job-data and job-finished; anything else goes through cJSON.
 * Returns ev->kind. */
ei_ev_kind ei_eio_event_parse(const char *p, size_t n, ei_buf *scratch, ei_eio_event *ev);

/* Write 42["start-log-stream",{"jobId":<job>,"lastReceivedTimestamp":<ts>}]
 * into out (at least EI_EIO_SUBSCRIBE_MAX bytes); returns its length. */
#define EI_EIO_SUBSCRIBE_MAX 128
size_t ei_eio_subscribe(char *out, int64_t job, double ts);

#endif
