/*
 * A minimal TLS server whose session tickets come from keywheel: run it on every node of a
 * cluster with the same main key and label, and each node resumes the others' tickets.
 *
 * It listens on 127.0.0.1, answers one HTTP request per connection, and serves connections one
 * at a time until SIGTERM/SIGINT (or -n connections). Valid C11 and C++.
 *
 *   server -c cert.pem -k key.pem -m main.key [-l label] [-i interval] [-K keep] [-s 128]
 *          [-p port] [-T unix-time] [-n connections] [-b]
 *
 *   -m FILE  main key file (at least 32 bytes; the first 32 are used)
 *   -l TEXT  label: the service whose servers share tickets (default "example")
 *   -i SECS  ticket-key rotation interval (default 3600), -K N previous keys accepted (default 1)
 *   -s 128   AES-128 ticket keys instead of AES-256
 *   -p PORT  port (default 0: any free port); the port is printed on stdout: "port N"
 *   -T TIME  take TIME (unix seconds) as the current time for ticket keys (tests)
 *   -n N     exit after N connections
 *   -b       OpenSSL's built-in ticket keys instead of keywheel (benchmark baseline; -m unused)
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "keywheel.h"
#include "keywheel_openssl.h"

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static uint64_t fixed_clock(void *arg) {
    return *(const uint64_t *)arg;
}

static int usage(void) {
    fprintf(stderr, "usage: server -c cert.pem -k key.pem (-m main.key | -b) [-l label] "
                    "[-i interval] [-K keep] [-s 128] [-p port] [-T time] [-n connections]\n");
    return 2;
}

static int fail(const char *what, keywheel_result r) {
    char message[KEYWHEEL_MESSAGE_MAX_LEN];
    size_t len = 0;
    if (keywheel_last_error_message(message, sizeof message, &len) != KEYWHEEL_RESULT_OK) {
        message[0] = '\0';
    }
    fprintf(stderr, "error: %s: %s (%s)\n", what, keywheel_result_message(r), message);
    return 1;
}

/* Reads the request head (up to the blank line) and answers it. */
static void serve(SSL *ssl) {
    char request[4096];
    size_t used = 0;
    while (used < sizeof request - 1) {
        int n = SSL_read(ssl, request + used, (int)(sizeof request - 1 - used));
        if (n <= 0) {
            return;
        }
        used += (size_t)n;
        request[used] = '\0';
        if (strstr(request, "\r\n\r\n") != NULL || strstr(request, "\n\n") != NULL) {
            break;
        }
    }
    char body[64];
    int body_len = snprintf(body, sizeof body, "hello from keywheel (resumed: %s)\n",
                            SSL_session_reused(ssl) ? "yes" : "no");
    char response[256];
    int len = snprintf(response, sizeof response,
                       "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                       "Connection: close\r\n\r\n%s",
                       body_len, body);
    if (SSL_write(ssl, response, len) == len) {
        SSL_shutdown(ssl);
    }
}

int main(int argc, char **argv) {
    const char *cert = NULL, *key = NULL, *main_key_file = NULL, *label = "example";
    uint64_t interval = 3600, keep = 1, fake_time = 0;
    uint32_t strength = KEYWHEEL_STRENGTH_AES256;
    long port = 0, max_connections = -1;
    int builtin = 0, opt;
    while ((opt = getopt(argc, argv, "c:k:m:l:i:K:s:p:T:n:b")) != -1) {
        switch (opt) {
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'm': main_key_file = optarg; break;
        case 'l': label = optarg; break;
        case 'i': interval = strtoull(optarg, NULL, 10); break;
        case 'K': keep = strtoull(optarg, NULL, 10); break;
        case 's':
            if (strcmp(optarg, "128") != 0) return usage();
            strength = KEYWHEEL_STRENGTH_AES128;
            break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'T': fake_time = strtoull(optarg, NULL, 10); break;
        case 'n': max_connections = strtol(optarg, NULL, 10); break;
        case 'b': builtin = 1; break;
        default: return usage();
        }
    }
    if (cert == NULL || key == NULL || (main_key_file == NULL && !builtin) || port < 0 ||
        port > 65535 || optind != argc) {
        return usage();
    }

    /* keywheel: the main key is only needed to make the label's ticket keys. */
    keywheel_ticket_keys *ticket_keys = NULL;
    if (!builtin) {
        keywheel_main_key *main_key = NULL;
        keywheel_result r = keywheel_main_key_from_file(main_key_file, &main_key);
        if (r != KEYWHEEL_RESULT_OK) {
            return fail("main key", r);
        }
        r = keywheel_ticket_keys_new(main_key, (const uint8_t *)label, strlen(label), strength,
                                     interval, keep, &ticket_keys);
        keywheel_main_key_free(main_key);
        if (r != KEYWHEEL_RESULT_OK) {
            return fail("ticket keys", r);
        }
    }

    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    static const unsigned char sid_ctx[] = "keywheel-example";
    int ok = ctx != NULL && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
             SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 &&
             SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
             SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) == 1;
    if (ok) {
        /* Resumption through tickets only: no per-process session cache. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        if (!builtin) {
            ok = keywheel_openssl_install(ctx, ticket_keys, fake_time != 0 ? fixed_clock : NULL,
                                          &fake_time);
        }
    }
    if (!ok) {
        fprintf(stderr, "error: TLS set-up failed\n");
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        keywheel_ticket_keys_free(ticket_keys);
        return 1;
    }

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addr_len = sizeof addr;
    if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 64) != 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("error: listen");
        if (listener >= 0) close(listener);
        SSL_CTX_free(ctx);
        keywheel_ticket_keys_free(ticket_keys);
        return 1;
    }
    printf("port %u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (long served = 0; !stopping && served != max_connections; served++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            break;
        }
        SSL *ssl = SSL_new(ctx);
        if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
            serve(ssl);
        }
        ERR_clear_error();
        SSL_free(ssl);
        close(fd);
    }

    close(listener);
    SSL_CTX_free(ctx); /* before the keys: the callback may run until here */
    keywheel_ticket_keys_free(ticket_keys);
    return 0;
}
