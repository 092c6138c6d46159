/*
 * The floor: the least a client can do to follow a fast-stream job. Gets a socket
 * token by REST (curl), connects the Engine.IO websocket with libwebsockets, sends
 * start-log-stream after the hello and counts job-data frames until job-finished.
 *
 *   floor URL API_KEY PROJECT_ID JOB_ID EXPECTED_FRAMES
 *
 * The job is started by the caller (bench/run trains it with curl). Prints
 * "frames <n> job <id> finished_us <us>" (the CLOCK_MONOTONIC microsecond job-finished
 * arrived) and exits 1 on a wrong count or after 120 s.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char token[512], jobid[32], path[1024], sub[128], prefix[64], done_prefix[64];
static long frames, expected;
static long long finished_us;
static int hello, finished, failed;
static char partial_head[64];
static size_t partial_len;

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_RECEIVE: {
    /* only the head of a message matters; keep it across fragments */
    if (partial_len < sizeof partial_head - 1) {
      size_t n = len < sizeof partial_head - 1 - partial_len ? len : sizeof partial_head - 1 - partial_len;
      memcpy(partial_head + partial_len, in, n);
      partial_len += n;
      partial_head[partial_len] = 0;
    }
    if (!lws_is_final_fragment(wsi)) break;
    if (!hello && strncmp(partial_head, "42[\"hello\"", 10) == 0) {
      hello = 1;
      lws_callback_on_writable(wsi);
    } else if (strncmp(partial_head, prefix, strlen(prefix)) == 0) {
      frames++;
    } else if (strncmp(partial_head, done_prefix, strlen(done_prefix)) == 0) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      finished_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
      finished = 1;
    }
    partial_len = 0;
    break;
  }
  case LWS_CALLBACK_CLIENT_WRITEABLE: {
    unsigned char buf[LWS_PRE + 128];
    size_t n = strlen(sub);
    memcpy(buf + LWS_PRE, sub, n);
    if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n) failed = 1;
    break;
  }
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
  case LWS_CALLBACK_CLIENT_CLOSED:
    if (!finished) failed = 1;
    break;
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {{"floor", cb, 0, 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: floor URL API_KEY PROJECT_ID JOB_ID EXPECTED_FRAMES\n");
    return 2;
  }
  const char *url = argv[1], *key = argv[2], *pid = argv[3];
  snprintf(jobid, sizeof jobid, "%s", argv[4]);
  expected = atol(argv[5]);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "curl -sf -m 10 -H 'x-api-key: %s' '%s/v1/api/%s/socket-token'", key, url, pid);
  FILE *p = popen(cmd, "r");
  char body[2048] = {0};
  size_t got = p ? fread(body, 1, sizeof body - 1, p) : 0;
  if (p) pclose(p);
  body[got] = 0;
  char *t = strstr(body, "\"socketToken\":\"");
  if (!t) { fprintf(stderr, "floor: no socket token\n"); return 1; }
  t += 15;
  char *e = strchr(t, '"');
  if (!e || (size_t)(e - t) >= sizeof token) return 1;
  memcpy(token, t, (size_t)(e - t));
  snprintf(path, sizeof path, "/socket.io/?token=%s&EIO=3&transport=websocket&onDemandLogs=true", token);
  snprintf(sub, sizeof sub, "42[\"start-log-stream\",{\"jobId\":%s,\"lastReceivedTimestamp\":0}]", jobid);
  snprintf(prefix, sizeof prefix, "42[\"job-data-%s\"", jobid);
  snprintf(done_prefix, sizeof done_prefix, "42[\"job-finished-%s\"", jobid);

  int port = 80;
  const char *colon = strrchr(url, ':');
  if (colon) port = atoi(colon + 1);

  lws_set_log_level(LLL_ERR, NULL);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  struct lws_context *ctx = lws_create_context(&info);
  if (!ctx) return 1;
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = ctx;
  ci.address = "127.0.0.1";
  ci.port = port;
  ci.path = path;
  ci.host = "127.0.0.1";
  ci.origin = "127.0.0.1";
  ci.protocol = NULL;
  if (!lws_client_connect_via_info(&ci)) { fprintf(stderr, "floor: connect failed\n"); return 1; }
  time_t deadline = time(NULL) + 120;
  while (!finished && !failed && time(NULL) < deadline) lws_service(ctx, 0);
  lws_context_destroy(ctx);
  printf("frames %ld job %s finished_us %lld\n", frames, jobid, finished_us);
  if (!finished || frames != expected) {
    fprintf(stderr, "floor: expected %ld frames and job-finished, got %ld%s\n", expected, frames, finished ? "" : " (not finished)");
    return 1;
  }
  return 0;
}
