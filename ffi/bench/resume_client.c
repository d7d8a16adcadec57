/*
 * Benchmark client: resumed TLS handshakes per second against a server on 127.0.0.1.
 *
 *   resume_client PORT 1.2|1.3 SECONDS
 *
 * Makes one full handshake, keeps its session (ticket), then for SECONDS opens connections that
 * resume it, each sending one HTTP request and reading the whole answer. Prints
 * "handshakes N reused N seconds S rate R". Exit status 1 if any connection failed or was not
 * resumed.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection: handshake (resuming `session` if not NULL), request, answer. Returns 1 when
 * it worked, and whether it was resumed in *reused; *out gets the session (caller frees). */
static int once(SSL_CTX *ctx, int port, SSL_SESSION *session, int *reused, SSL_SESSION **out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, ok = 0;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    SSL *ssl = NULL;
    if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
        connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && (ssl = SSL_new(ctx)) != NULL &&
        SSL_set_fd(ssl, fd) == 1 && (session == NULL || SSL_set_session(ssl, session) == 1) &&
        SSL_connect(ssl) == 1) {
        static const char request[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
        char buf[1024];
        if (SSL_write(ssl, request, (int)sizeof request - 1) == (int)sizeof request - 1) {
            while (SSL_read(ssl, buf, sizeof buf) > 0) {
            }
            /* Answer the server's close_notify: a connection freed without it makes its
             * session not resumable. */
            SSL_shutdown(ssl);
            ok = 1;
            *reused = SSL_session_reused(ssl);
            if (out != NULL) *out = SSL_get1_session(ssl);
        }
    }
    ERR_clear_error();
    SSL_free(ssl);
    if (fd >= 0) close(fd);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: resume_client PORT 1.2|1.3 SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int version = strcmp(argv[2], "1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
    double seconds = atof(argv[3]);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_SESSION *session = NULL;
    int reused = 0;
    if (!once(ctx, port, NULL, &reused, &session) || session == NULL) {
        fprintf(stderr, "error: first handshake failed\n");
        return 1;
    }
    long handshakes = 0, resumed = 0, failures = 0;
    double start = now(), elapsed = 0;
    while (elapsed < seconds) {
        if (once(ctx, port, session, &reused, NULL)) {
            handshakes++;
            resumed += reused;
        } else {
            failures++;
        }
        elapsed = now() - start;
    }
    printf("handshakes %ld reused %ld failures %ld seconds %.3f rate %.1f\n", handshakes, resumed,
           failures, elapsed, (double)handshakes / elapsed);
    SSL_SESSION_free(session);
    SSL_CTX_free(ctx);
    return failures == 0 && resumed == handshakes ? 0 : 1;
}
