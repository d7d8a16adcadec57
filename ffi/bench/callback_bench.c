/*
 * The cost of one call of keywheel's OpenSSL ticket-key callback, in nanoseconds: encrypting
 * (current key, random IV, cipher and HMAC set up), decrypting with the current key and with the
 * previous one, and the keywheel calls alone; next to the same OpenSSL set-up with a fixed key,
 * which is what a callback with static keys (or OpenSSL's built-in keys) costs anyway.
 *
 *   callback_bench [CALLS]
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "keywheel.h"
#include "keywheel_openssl.h"

static uint64_t fake_now = 1700000100;
static uint64_t clock_fn(void *arg) {
    (void)arg;
    return fake_now;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define TIME(label, calls, expr)                                                                  \
    do {                                                                                          \
        long bad_ = 0;                                                                            \
        double t0_ = seconds();                                                                   \
        for (long i_ = 0; i_ < (calls); i_++) {                                                   \
            if (!(expr)) bad_++;                                                                  \
        }                                                                                         \
        double ns_ = (seconds() - t0_) * 1e9 / (double)(calls);                                   \
        printf("%-52s %8.0f ns/call%s\n", label, ns_, bad_ ? "  (UNEXPECTED RESULTS)" : "");       \
        failures += bad_ != 0;                                                                    \
    } while (0)

static int fixed_key_setup(EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, const unsigned char *aes,
                           unsigned char *hmac, unsigned char *iv) {
    char digest[] = "SHA256";
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, hmac, 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[2] = OSSL_PARAM_construct_end();
    return RAND_bytes(iv, 16) == 1 &&
           EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, aes, iv) == 1 &&
           EVP_MAC_CTX_set_params(mac, params) == 1;
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 100000;
    int failures = 0;
    static const uint8_t material[32] = {7};
    keywheel_main_key *mk = NULL;
    keywheel_ticket_keys *keys = NULL;
    if (keywheel_main_key_new(material, sizeof material, &mk) != KEYWHEEL_RESULT_OK ||
        keywheel_ticket_keys_new(mk, (const uint8_t *)"bench", 5, KEYWHEEL_STRENGTH_AES256, 3600,
                                 1, &keys) != KEYWHEEL_RESULT_OK) {
        fprintf(stderr, "error: keywheel set-up\n");
        return 1;
    }
    keywheel_main_key_free(mk);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_CIPHER_CTX *cipher = EVP_CIPHER_CTX_new();
    if (ssl == NULL || mac == NULL || cipher == NULL ||
        !keywheel_openssl_install(ctx, keys, clock_fn, NULL)) {
        fprintf(stderr, "error: OpenSSL set-up\n");
        return 1;
    }
    unsigned char name[16], previous_name[16], iv[EVP_MAX_IV_LENGTH];
    keywheel_openssl_ticket_key_cb(ssl, previous_name, iv, cipher, mac, 1);
    fake_now += 3600; /* one interval later: the first name is "previous 1" */
    keywheel_openssl_ticket_key_cb(ssl, name, iv, cipher, mac, 1);

    printf("%ld calls each (keep 1, AES-256)\n", calls);
    unsigned char aes[32] = {1}, hkey[32] = {2};
    TIME("fixed key: RAND_bytes + EVP_EncryptInit + MAC key", calls,
         fixed_key_setup(cipher, mac, aes, hkey, iv));
    TIME("keywheel callback, encrypt (current key)", calls,
         keywheel_openssl_ticket_key_cb(ssl, name, iv, cipher, mac, 1) == 1);
    TIME("keywheel callback, decrypt, current key", calls,
         keywheel_openssl_ticket_key_cb(ssl, name, iv, cipher, mac, 0) == 1);
    TIME("keywheel callback, decrypt, previous key (renew)", calls,
         keywheel_openssl_ticket_key_cb(ssl, previous_name, iv, cipher, mac, 0) == 2);
    unsigned char unknown[16] = {0};
    TIME("keywheel callback, decrypt, unknown name", calls,
         keywheel_openssl_ticket_key_cb(ssl, unknown, iv, cipher, mac, 0) == 0);
    keywheel_ticket_key key;
    keywheel_lookup found;
    TIME("keywheel_ticket_keys_current alone", calls,
         keywheel_ticket_keys_current(keys, fake_now, &key) == KEYWHEEL_RESULT_OK);
    TIME("keywheel_ticket_keys_lookup alone, current key", calls,
         keywheel_ticket_keys_lookup(keys, fake_now, name, 16, &found, &key) ==
             KEYWHEEL_RESULT_OK);
    keywheel_ticket_key_wipe(&key);

    EVP_CIPHER_CTX_free(cipher);
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(hmac);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    keywheel_ticket_keys_free(keys);
    return failures ? 1 : 0;
}
