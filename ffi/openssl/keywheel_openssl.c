/*
 * keywheel_openssl: OpenSSL 3 session-ticket keys from keywheel. See keywheel_openssl.h.
 * Valid C11 and C++ (the tests compile it as both).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "keywheel_openssl.h"

#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* What the callback needs, stored in the SSL_CTX's ex_data. */
struct keywheel_openssl_binding {
    const keywheel_ticket_keys *keys;
    keywheel_openssl_clock clock;
    void *clock_arg;
};

static CRYPTO_ONCE index_once = CRYPTO_ONCE_STATIC_INIT;
static int binding_index = -1;

static void free_binding(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp) {
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    OPENSSL_free(ptr);
}

static void make_index(void) {
    binding_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_binding);
}

static uint64_t system_clock(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
        return 0; /* out of range: no ticket, full handshakes */
    }
    return (uint64_t)ts.tv_sec;
}

int keywheel_openssl_install(SSL_CTX *ctx, const keywheel_ticket_keys *keys,
                             keywheel_openssl_clock clock, void *clock_arg) {
    if (ctx == NULL || keys == NULL) {
        return 0;
    }
    if (!CRYPTO_THREAD_run_once(&index_once, make_index) || binding_index < 0) {
        return 0;
    }
    struct keywheel_openssl_binding *binding =
        (struct keywheel_openssl_binding *)OPENSSL_zalloc(sizeof *binding);
    if (binding == NULL) {
        return 0;
    }
    binding->keys = keys;
    binding->clock = clock;
    binding->clock_arg = clock_arg;
    void *previous = SSL_CTX_get_ex_data(ctx, binding_index);
    if (!SSL_CTX_set_ex_data(ctx, binding_index, binding)) {
        OPENSSL_free(binding);
        return 0;
    }
    OPENSSL_free(previous);
    if (!SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, keywheel_openssl_ticket_key_cb)) {
        return 0;
    }
    return 1;
}

static const EVP_CIPHER *cipher_of(const keywheel_ticket_key *key) {
    return key->key_len == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
}

static int set_hmac_key(EVP_MAC_CTX *mac, keywheel_ticket_key *key) {
    char digest[] = "SHA256";
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key->hmac_key, key->key_len);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(mac, params);
}

int keywheel_openssl_ticket_key_cb(SSL *ssl, unsigned char key_name[16],
                                   unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cipher,
                                   EVP_MAC_CTX *mac, int enc) {
    if (ssl == NULL || key_name == NULL || iv == NULL || cipher == NULL || mac == NULL ||
        binding_index < 0) {
        return -1;
    }
    const struct keywheel_openssl_binding *binding =
        (const struct keywheel_openssl_binding *)SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
                                                                     binding_index);
    if (binding == NULL) {
        return -1;
    }
    uint64_t now = binding->clock != NULL ? binding->clock(binding->clock_arg) : system_clock();
    keywheel_ticket_key key;
    int ret;
    if (enc) {
        if (keywheel_ticket_keys_current(binding->keys, now, &key) != KEYWHEEL_RESULT_OK) {
            return 0; /* time out of range: issue no ticket */
        }
        if (RAND_bytes(iv, 16) != 1 ||
            EVP_EncryptInit_ex(cipher, cipher_of(&key), NULL, key.aes_key, iv) != 1) {
            ret = -1;
        } else {
            memcpy(key_name, key.name, 16);
            ret = 1;
        }
    } else {
        keywheel_lookup found = KEYWHEEL_LOOKUP_NOT_FOUND;
        if (keywheel_ticket_keys_lookup(binding->keys, now, key_name, 16, &found, &key) !=
                KEYWHEEL_RESULT_OK ||
            found == KEYWHEEL_LOOKUP_NOT_FOUND) {
            return 0; /* unknown key name: full handshake */
        }
        if (EVP_DecryptInit_ex(cipher, cipher_of(&key), NULL, key.aes_key, iv) != 1) {
            ret = -1;
        } else {
            ret = found == KEYWHEEL_LOOKUP_CURRENT ? 1 : 2;
        }
    }
    if (ret > 0 && set_hmac_key(mac, &key) != 1) {
        ret = -1;
    }
    keywheel_ticket_key_wipe(&key);
    return ret;
}
