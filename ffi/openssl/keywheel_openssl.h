/*
 * keywheel_openssl: OpenSSL 3 session-ticket keys from keywheel.
 *
 * keywheel_openssl_install() installs a ticket-key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb)
 * on an SSL_CTX. Every server of a cluster that installs it with the same main key, label,
 * interval and keep encrypts tickets with the same key at the same time, and decrypts the
 * tickets of the others -- with no key files, no reloads and no traffic between servers:
 *
 *   - new tickets: the current key (interval floor(now / interval)), a random IV,
 *     AES-256-CBC (or AES-128-CBC) and HMAC-SHA256 (EVP_MAC);
 *   - a ticket is looked up by its 16-byte key name among the accepted keys
 *     (current - keep ..= current + 1): the current key decrypts it (return 1), another accepted
 *     key decrypts it and OpenSSL issues a fresh ticket (return 2), an unknown name gives a full
 *     handshake (return 0).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef KEYWHEEL_OPENSSL_H
#define KEYWHEEL_OPENSSL_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "keywheel.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A clock for the callback: returns the unix time in seconds. `arg` is the pointer given to
 * keywheel_openssl_install(). Used by tests (a fixed or shifted time); servers pass NULL to use
 * the system clock (CLOCK_REALTIME).
 */
typedef uint64_t (*keywheel_openssl_clock)(void *arg);

/*
 * Installs keywheel's ticket-key callback on `ctx`.
 *
 * `keys` (from keywheel_ticket_keys_new) is not copied: it must stay alive, and must not be
 * freed, as long as `ctx` or any SSL made from it is in use. The binding itself is freed with
 * `ctx`. `clock` may be NULL (system clock). Installing again replaces the previous binding.
 *
 * Thread-safety: call it while setting up `ctx`, before handshakes run on it. The callback
 * itself is safe to run from many threads at once (keys are read-only; nothing is cached).
 *
 * Returns 1 on success, 0 on failure (NULL `ctx` or `keys`, or an OpenSSL allocation failure).
 */
int keywheel_openssl_install(SSL_CTX *ctx, const keywheel_ticket_keys *keys,
                             keywheel_openssl_clock clock, void *clock_arg);

/*
 * The callback installed by keywheel_openssl_install(), for servers that want to call it from
 * their own callback (it finds its keys through the SSL's SSL_CTX). Returns what OpenSSL
 * expects of a SSL_CTX_set_tlsext_ticket_key_evp_cb callback: encrypting, 1 (key set up) or 0
 * (no ticket: clock out of range); decrypting, 1 (current key), 2 (other accepted key: accept
 * and renew) or 0 (unknown name or clock out of range: full handshake); -1 on an OpenSSL
 * failure.
 */
int keywheel_openssl_ticket_key_cb(SSL *ssl, unsigned char key_name[16],
                                   unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cipher,
                                   EVP_MAC_CTX *mac, int enc);

#ifdef __cplusplus
}
#endif

#endif /* KEYWHEEL_OPENSSL_H */
