/* orch demo app: a tiny static HTTP server for the lab and the playbook tests.
 *
 *   GET /health  -> 200 {"status":"ok","version":"<v>"}   (503 when the version is "broken")
 *   GET /        -> 200 demo-app <v>
 *   demo-app check  -> exit 0 when GET /health on the local port answers 200 (for a HEALTHCHECK;
 *                      the image has none: `docker exec` does not work inside lab hosts)
 *
 * The version comes from /app/VERSION inside the image (so an image tag IS a version), the port
 * from $APP_PORT (default 8080), the address from $APP_BIND (default 0.0.0.0; lab hosts share
 * the machine's network, so each binds its own 127.x address). Each request is logged as one line on stdout and, when
 * $APP_LOG_DIR is set, appended to $APP_LOG_DIR/access.log (what logrotate rotates).
 * No libc beyond sockets and stdio: it links statically and needs nothing else in the image.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char version[64] = "unknown";

static void on_term(int sig) { (void)sig; _exit(0); }

static int port(void) {
  const char *p = getenv("APP_PORT");
  int n = p ? atoi(p) : 0;
  return n > 0 && n < 65536 ? n : 8080;
}

static in_addr_t bind_address(void) {
  const char *b = getenv("APP_BIND");
  in_addr_t a = b && *b ? inet_addr(b) : htonl(INADDR_ANY);
  return a == (in_addr_t)-1 ? htonl(INADDR_ANY) : a;
}

static void load_version(void) {
  FILE *f = fopen("/app/VERSION", "r");
  if (!f) return;
  if (fgets(version, sizeof version, f)) version[strcspn(version, "\r\n")] = 0;
  fclose(f);
}

static int check(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port())};
  a.sin_addr.s_addr = bind_address() == htonl(INADDR_ANY) ? htonl(INADDR_LOOPBACK) : bind_address();
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
  const char req[] = "GET /health HTTP/1.0\r\n\r\n";
  if (write(s, req, sizeof req - 1) < 0) return 1;
  char buf[64] = {0};
  if (read(s, buf, sizeof buf - 1) < 12) return 1;
  return strncmp(buf + 9, "200", 3) != 0;
}

static void log_line(const char *peer, const char *line, int status) {
  char stamp[32];
  time_t now = time(NULL);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  printf("%s %s \"%s\" %d %s\n", stamp, peer, line, status, version);
  fflush(stdout);
  const char *dir = getenv("APP_LOG_DIR");
  if (dir && *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/access.log", dir);
    FILE *f = fopen(path, "a");
    if (f) {
      fprintf(f, "%s %s \"%s\" %d %s\n", stamp, peer, line, status, version);
      fclose(f);
    }
  }
}

static void serve(int c, const char *peer) {
  char req[2048];
  ssize_t n = read(c, req, sizeof req - 1);
  if (n <= 0) return;
  req[n] = 0;
  req[strcspn(req, "\r\n")] = 0;
  char body[256];
  int status;
  const char *type = "text/plain";
  if (strncmp(req, "GET /health ", 12) == 0 || strcmp(req, "GET /health") == 0) {
    int ok = strcmp(version, "broken") != 0;
    status = ok ? 200 : 503;
    type = "application/json";
    snprintf(body, sizeof body, "{\"status\":\"%s\",\"version\":\"%s\"}\n", ok ? "ok" : "failing", version);
  } else if (strncmp(req, "GET / ", 6) == 0) {
    status = 200;
    snprintf(body, sizeof body, "demo-app %s\n", version);
  } else {
    status = 404;
    snprintf(body, sizeof body, "not found\n");
  }
  char head[256];
  int h = snprintf(head, sizeof head,
                   "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, status == 200 ? "OK" : status == 503 ? "Service Unavailable" : "Not Found", type,
                   strlen(body));
  if (write(c, head, h) >= 0 && write(c, body, strlen(body)) >= 0) log_line(peer, req, status);
}

int main(int argc, char **argv) {
  load_version();
  if (argc > 1 && strcmp(argv[1], "check") == 0) return check();
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port())};
  a.sin_addr.s_addr = bind_address();
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
    fprintf(stderr, "demo-app: cannot listen on %s:%d: %s\n", getenv("APP_BIND") ? getenv("APP_BIND") : "0.0.0.0",
            port(), strerror(errno));
    return 1;
  }
  printf("demo-app %s listening on port %d\n", version, port());
  fflush(stdout);
  for (;;) {
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &len);
    if (c < 0) continue;
    serve(c, inet_ntoa(peer.sin_addr));
    close(c);
  }
}
