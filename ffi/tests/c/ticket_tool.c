/*
 * Test helper around the C API and OpenSSL:
 *
 *   ticket_tool render-nginx MAIN_KEY_FILE LABEL INTERVAL KEEP TIME DIR
 *       writes keywheel's nginx key files for TIME, rendered by keywheel_ticket_keys_render:
 *       DIR/ticket.0.key (current: the first ssl_session_ticket_key encrypts), ticket.1.key
 *       (next), ticket.2.key (previous 1), ...; prints the number of files.
 *
 *   ticket_tool open SESSION.pem MAIN_KEY_FILE LABEL INTERVAL KEEP TIME
 *       opens the ticket of a session saved by `openssl s_client -sess_out` with the library's
 *       keys: looks its key name up at TIME, checks its HMAC-SHA256, decrypts it (AES-256-CBC)
 *       and parses the plaintext as the server's SSL_SESSION, whose master key must equal the
 *       client's. Prints "ok current|accepted counter N" or the reason it failed (exit 1).
 *
 * Ticket layout (OpenSSL and every server built on it): name16 | IV16 | ciphertext | HMAC32,
 * the HMAC over everything before it.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "keywheel.h"

static int die(const char *what) {
    char message[KEYWHEEL_MESSAGE_MAX_LEN];
    size_t len;
    if (keywheel_last_error_message(message, sizeof message, &len) != KEYWHEEL_RESULT_OK) {
        message[0] = '\0';
    }
    printf("error: %s (%s)\n", what, message);
    return 1;
}

static keywheel_ticket_keys *load(const char *key_file, const char *label, const char *interval,
                                  const char *keep) {
    keywheel_main_key *mk = NULL;
    keywheel_ticket_keys *keys = NULL;
    if (keywheel_main_key_from_file(key_file, &mk) != KEYWHEEL_RESULT_OK) return NULL;
    keywheel_ticket_keys_new(mk, (const uint8_t *)label, strlen(label), KEYWHEEL_STRENGTH_AES256,
                             strtoull(interval, NULL, 10), strtoull(keep, NULL, 10), &keys);
    keywheel_main_key_free(mk);
    return keys;
}

static int render_nginx(char **argv) {
    keywheel_ticket_keys *keys = load(argv[2], argv[3], argv[4], argv[5]);
    if (keys == NULL) return die("keys");
    size_t total = 0, record = 0, written = 0;
    uint8_t *buf = NULL;
    int rc = 1;
    if (keywheel_ticket_keys_rendered_len(keys, KEYWHEEL_FORMAT_NGINX, &total) !=
            KEYWHEEL_RESULT_OK ||
        keywheel_format_record_len(KEYWHEEL_FORMAT_NGINX, &record) != KEYWHEEL_RESULT_OK ||
        (buf = (uint8_t *)malloc(total)) == NULL ||
        keywheel_ticket_keys_render(keys, KEYWHEEL_FORMAT_NGINX, strtoull(argv[6], NULL, 10), buf,
                                    total, &written) != KEYWHEEL_RESULT_OK) {
        rc = die("render");
    } else {
        size_t files = written / record;
        rc = 0;
        for (size_t i = 0; i < files && rc == 0; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/ticket.%zu.key", argv[7], i);
            FILE *f = fopen(path, "wb");
            if (f == NULL || fwrite(buf + i * record, 1, record, f) != record || fclose(f) != 0) {
                perror(path);
                rc = 1;
            }
        }
        if (rc == 0) printf("%zu\n", files);
        OPENSSL_cleanse(buf, total);
    }
    free(buf);
    keywheel_ticket_keys_free(keys);
    return rc;
}

static int open_ticket(char **argv) {
    FILE *f = fopen(argv[2], "r");
    if (f == NULL) {
        perror(argv[2]);
        return 1;
    }
    SSL_SESSION *client = PEM_read_SSL_SESSION(f, NULL, NULL, NULL);
    fclose(f);
    if (client == NULL || !SSL_SESSION_has_ticket(client)) {
        SSL_SESSION_free(client);
        printf("error: no session ticket in %s\n", argv[2]);
        return 1;
    }
    const unsigned char *ticket;
    size_t len;
    SSL_SESSION_get0_ticket(client, &ticket, &len);
    keywheel_ticket_keys *keys = load(argv[3], argv[4], argv[5], argv[6]);
    if (keys == NULL) {
        SSL_SESSION_free(client);
        return die("keys");
    }
    keywheel_lookup found = KEYWHEEL_LOOKUP_NOT_FOUND;
    keywheel_ticket_key key;
    memset(&key, 0, sizeof key);
    int rc = 1;
    unsigned char mac[32], *plain = NULL;
    size_t mac_len = 0;
    int n1 = 0, n2 = 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end()};
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_CIPHER_CTX *cctx = EVP_CIPHER_CTX_new();
    if (len < 16 + 16 + 16 + 32) {
        printf("error: ticket of %zu bytes is too short\n", len);
    } else if (keywheel_ticket_keys_lookup(keys, strtoull(argv[7], NULL, 10), ticket, 16, &found,
                                           &key) != KEYWHEEL_RESULT_OK) {
        rc = die("lookup");
    } else if (found == KEYWHEEL_LOOKUP_NOT_FOUND) {
        printf("error: key name not found\n");
    } else if (mctx == NULL || cctx == NULL ||
               EVP_MAC_init(mctx, key.hmac_key, key.key_len, params) != 1 ||
               EVP_MAC_update(mctx, ticket, len - 32) != 1 ||
               EVP_MAC_final(mctx, mac, &mac_len, sizeof mac) != 1 || mac_len != 32) {
        printf("error: HMAC failed\n");
    } else if (CRYPTO_memcmp(mac, ticket + len - 32, 32) != 0) {
        printf("error: HMAC mismatch\n");
    } else if ((plain = (unsigned char *)malloc(len)) == NULL ||
               EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key.aes_key, ticket + 16) != 1 ||
               EVP_DecryptUpdate(cctx, plain, &n1, ticket + 32, (int)(len - 32 - 32)) != 1 ||
               EVP_DecryptFinal_ex(cctx, plain + n1, &n2) != 1) {
        printf("error: decryption failed\n");
    } else {
        const unsigned char *p = plain;
        SSL_SESSION *server = d2i_SSL_SESSION(NULL, &p, n1 + n2);
        unsigned char mk_client[256], mk_server[256];
        size_t lc = SSL_SESSION_get_master_key(client, mk_client, sizeof mk_client);
        size_t ls = server ? SSL_SESSION_get_master_key(server, mk_server, sizeof mk_server) : 0;
        if (server == NULL) {
            printf("error: the plaintext is not an SSL_SESSION\n");
        } else if (lc == 0 || lc != ls || memcmp(mk_client, mk_server, lc) != 0) {
            printf("error: the ticket's master key is not the client's\n");
        } else {
            printf("ok %s counter %" PRIu64 "\n",
                   found == KEYWHEEL_LOOKUP_CURRENT ? "current" : "accepted", key.counter);
            rc = 0;
        }
        OPENSSL_cleanse(mk_client, sizeof mk_client);
        OPENSSL_cleanse(mk_server, sizeof mk_server);
        SSL_SESSION_free(server);
    }
    if (plain != NULL) {
        OPENSSL_cleanse(plain, len);
        free(plain);
    }
    keywheel_ticket_key_wipe(&key);
    EVP_CIPHER_CTX_free(cctx);
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(hmac);
    keywheel_ticket_keys_free(keys);
    SSL_SESSION_free(client);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 8 && strcmp(argv[1], "render-nginx") == 0) return render_nginx(argv);
    if (argc == 8 && strcmp(argv[1], "open") == 0) return open_ticket(argv);
    fprintf(stderr, "usage: ticket_tool render-nginx KEY LABEL INTERVAL KEEP TIME DIR\n"
                    "       ticket_tool open SESSION.pem KEY LABEL INTERVAL KEEP TIME\n");
    return 2;
}
