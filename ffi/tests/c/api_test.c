/*
 * The C API of keywheel checked from C: the shared vectors (converted to lines by
 * vectors_to_lines.py) and every bad input (NULL, short buffer, bad interval, too-long label,
 * wrong-length key, ...), which must give its result code and leave every output untouched.
 *
 *   api_test VECTORS.txt
 *
 * Prints one line per failure and "N passed, N failed" at the end; exit status 0 when none
 * failed. Built with -Wall -Wextra -Werror, and run under ASan+UBSan and valgrind.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keywheel.h"

static unsigned passed, failed;

static void check(int ok, const char *fmt, ...) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* The detailed message of the last failure on this thread. */
static const char *last_message(void) {
    static char buf[KEYWHEEL_MESSAGE_MAX_LEN];
    size_t len = 0;
    if (keywheel_last_error_message(buf, sizeof buf, &len) != KEYWHEEL_RESULT_OK) {
        return "(no message)";
    }
    return buf;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* --- hex and vector lines ------------------------------------------------------------------ */

/* Decodes hex (or "-" for empty) into a new buffer; *len gets its length. */
static uint8_t *unhex(const char *hex, size_t *len) {
    size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
    uint8_t *out = (uint8_t *)malloc(n + 1); /* +1: never malloc(0) */
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) v = 0;
        out[i] = (uint8_t)v;
    }
    *len = n;
    return out;
}

static int equal_hex(const uint8_t *bytes, size_t len, const char *hex) {
    size_t n;
    uint8_t *want = unhex(hex, &n);
    int ok = n == len && memcmp(bytes, want, n) == 0;
    free(want);
    return ok;
}

static uint64_t u64(const char *s) { return strtoull(s, NULL, 10); }

#define MAX_FIELDS 16

/* Splits line into at most `max` space-separated fields; the last one takes the rest. */
static int split(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    while (n < max && *p) {
        fields[n++] = p;
        if (n == max) break;
        char *sp = strchr(p, ' ');
        if (!sp) break;
        *sp = '\0';
        p = sp + 1;
    }
    return n;
}

static keywheel_main_key *main_key_of(const char *hex) {
    size_t len;
    uint8_t *material = unhex(hex, &len);
    keywheel_main_key *key = NULL;
    keywheel_result r = keywheel_main_key_new(material, len, &key);
    free(material);
    check(r == KEYWHEEL_RESULT_OK, "main key %s: %s", hex, last_message());
    return key;
}

static keywheel_ticket_keys *ticket_keys_of(const char *mk_hex, const char *label_hex,
                                            uint32_t strength, uint64_t interval, uint64_t keep) {
    keywheel_main_key *mk = main_key_of(mk_hex);
    size_t label_len;
    uint8_t *label = unhex(label_hex, &label_len);
    keywheel_ticket_keys *keys = NULL;
    keywheel_result r =
        keywheel_ticket_keys_new(mk, label, label_len, strength, interval, keep, &keys);
    check(r == KEYWHEEL_RESULT_OK, "ticket keys %s: %s", label_hex, last_message());
    free(label);
    keywheel_main_key_free(mk);
    return keys;
}

static keywheel_result code_of(const char *kind) {
    static const struct {
        const char *kind;
        keywheel_result code;
    } kinds[] = {
        {"MainKeyTooShort", KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT},
        {"MainKeyZero", KEYWHEEL_RESULT_MAIN_KEY_ZERO},
        {"OutputLength", KEYWHEEL_RESULT_OUTPUT_LENGTH},
        {"Interval", KEYWHEEL_RESULT_INTERVAL},
        {"Time", KEYWHEEL_RESULT_TIME},
        {"LabelLength", KEYWHEEL_RESULT_LABEL_LENGTH},
        {"Keep", KEYWHEEL_RESULT_KEEP},
        {"FormatKeep", KEYWHEEL_RESULT_FORMAT_KEEP},
        {"FormatStrength", KEYWHEEL_RESULT_FORMAT_STRENGTH},
        {"BufferTooSmall", KEYWHEEL_RESULT_BUFFER_TOO_SMALL},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].kind, kind) == 0) return kinds[i].code;
    }
    return KEYWHEEL_RESULT_OK; /* unknown kind: the check below fails */
}

static const uint8_t SENTINEL = 0xa5;

static int untouched(const void *buf, size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != SENTINEL) return 0;
    }
    return 1;
}

/* Checks a failed call: its code, its detailed message, and that the output stayed as it was. */
static void expect_error(keywheel_result got, const char *kind, const char *message,
                         const void *out, size_t out_len, const char *what) {
    keywheel_result want = code_of(kind);
    check(got == want && want != KEYWHEEL_RESULT_OK, "%s: result %u, want %s (%u)", what,
          (unsigned)got, kind, (unsigned)want);
    const char *detail = last_message();
    check(ends_with(detail, message), "%s: message \"%s\", want it to end with \"%s\"", what,
          detail, message);
    check(untouched(out, out_len), "%s: output written on failure", what);
}

static unsigned vector_lines;

static void run_vector(char *line) {
    char *f[MAX_FIELDS];
    /* Error lines: "error OP REST", REST split below by OP (the message has spaces). */
    int n = split(line, f, strncmp(line, "error ", 6) == 0 ? 3 : MAX_FIELDS);
    if (n == 0) return;
    vector_lines++;
    uint8_t out[1024];
    memset(out, SENTINEL, sizeof out);

    if (strcmp(f[0], "derive") == 0 && n == 6) {
        keywheel_main_key *mk = main_key_of(f[1]);
        size_t ctx_len, len = (size_t)u64(f[4]);
        uint8_t *ctx = unhex(f[2], &ctx_len);
        keywheel_result r = keywheel_derive_key(mk, ctx, ctx_len, u64(f[3]), out, len);
        check(r == KEYWHEEL_RESULT_OK && equal_hex(out, len, f[5]), "derive %s id %s len %zu",
              f[2], f[3], len);
        check(out[len] == SENTINEL, "derive wrote past out_len");
        free(ctx);
        keywheel_main_key_free(mk);
    } else if (strcmp(f[0], "tfo") == 0 && n == 12) {
        keywheel_main_key *mk = main_key_of(f[1]);
        uint64_t interval = u64(f[2]), now = u64(f[3]);
        keywheel_slot slot;
        keywheel_result r = keywheel_schedule_at(interval, now, &slot);
        check(r == KEYWHEEL_RESULT_OK && slot.now == now && slot.primary == u64(f[4]) &&
                  slot.backup == u64(f[5]) && slot.next_wake == u64(f[6]) &&
                  slot.wake_sec == u64(f[7]) && slot.wake_nsec == u64(f[8]),
              "schedule %" PRIu64 " at %" PRIu64, interval, now);
        uint8_t primary[16], backup[16];
        r = keywheel_tfo_keys(mk, interval, now, primary, sizeof primary, backup, sizeof backup);
        check(r == KEYWHEEL_RESULT_OK && equal_hex(primary, 16, f[9]) &&
                  equal_hex(backup, 16, f[10]),
              "tfo keys %" PRIu64 " at %" PRIu64, interval, now);
        char text[KEYWHEEL_TFO_PROCFS_TEXT_LEN + 1];
        size_t written = 0;
        r = keywheel_tfo_procfs_text(mk, interval, now, text, sizeof text, &written);
        check(r == KEYWHEEL_RESULT_OK && written == KEYWHEEL_TFO_PROCFS_TEXT_LEN &&
                  strcmp(text, f[11]) == 0,
              "procfs text %" PRIu64 " at %" PRIu64 ": %s", interval, now, text);
        keywheel_main_key_free(mk);
    } else if (strcmp(f[0], "ticket_key") == 0 && n == 8) {
        keywheel_ticket_keys *keys = ticket_keys_of(f[1], f[2], (uint32_t)u64(f[3]), 3600, 1);
        keywheel_ticket_key key;
        keywheel_result r = keywheel_ticket_keys_by_counter(keys, u64(f[4]), &key);
        size_t klen = u64(f[3]) == KEYWHEEL_STRENGTH_AES256 ? 32 : 16;
        check(r == KEYWHEEL_RESULT_OK && key.key_len == klen && key.counter == u64(f[4]) &&
                  key.strength == (uint32_t)u64(f[3]) && equal_hex(key.name, 16, f[5]) &&
                  equal_hex(key.aes_key, klen, f[6]) && equal_hex(key.hmac_key, klen, f[7]),
              "ticket key label %s counter %s", f[2], f[4]);
        keywheel_ticket_key_wipe(&key);
        keywheel_ticket_keys_free(keys);
    } else if (strcmp(f[0], "ticket_schedule") == 0 && n == 6) {
        keywheel_ticket_keys *keys = ticket_keys_of(
            "0101010101010101010101010101010101010101010101010101010101010101", "78",
            KEYWHEEL_STRENGTH_AES256, u64(f[1]), u64(f[2]));
        keywheel_ticket_slot slot;
        keywheel_result r = keywheel_ticket_keys_slot(keys, u64(f[3]), &slot);
        check(r == KEYWHEEL_RESULT_OK && slot.now == u64(f[3]) && slot.current == u64(f[4]) &&
                  slot.keep == u64(f[2]) && slot.next_rotation == u64(f[5]),
              "ticket schedule %s/%s at %s", f[1], f[2], f[3]);
        keywheel_ticket_keys_free(keys);
    } else if (strcmp(f[0], "ticket_lookup") == 0 && n == 12) {
        keywheel_ticket_keys *keys =
            ticket_keys_of(f[1], f[2], (uint32_t)u64(f[3]), u64(f[4]), u64(f[5]));
        size_t name_len;
        uint8_t *name = unhex(f[7], &name_len);
        keywheel_ticket_key key;
        memset(&key, SENTINEL, sizeof key);
        keywheel_lookup found = (keywheel_lookup)99;
        keywheel_result r =
            keywheel_ticket_keys_lookup(keys, u64(f[6]), name, name_len, &found, &key);
        check(r == KEYWHEEL_RESULT_OK && (uint32_t)found == (uint32_t)u64(f[8]),
              "lookup %s: found %u, want %s", f[7], (unsigned)found, f[8]);
        if (found == KEYWHEEL_LOOKUP_NOT_FOUND) {
            check(untouched(&key, sizeof key), "lookup %s: key written when not found", f[7]);
        } else {
            check(key.counter == u64(f[9]) && equal_hex(key.name, 16, f[7]) &&
                      equal_hex(key.aes_key, key.key_len, f[10]) &&
                      equal_hex(key.hmac_key, key.key_len, f[11]),
                  "lookup %s: wrong key", f[7]);
        }
        keywheel_ticket_key_wipe(&key);
        free(name);
        keywheel_ticket_keys_free(keys);
    } else if (strcmp(f[0], "format") == 0 && n == 10) {
        uint32_t format = (uint32_t)u64(f[1]);
        uint32_t strength = (format == KEYWHEEL_FORMAT_NGINX || format == KEYWHEEL_FORMAT_HAPROXY ||
                             format == KEYWHEEL_FORMAT_OPENSSL)
                                ? KEYWHEEL_STRENGTH_AES256
                                : KEYWHEEL_STRENGTH_AES128;
        keywheel_ticket_keys *keys = ticket_keys_of(f[2], f[3], strength, u64(f[4]), u64(f[5]));
        size_t want_len, record_len = 0, total = 0, written = 0;
        uint8_t *want = unhex(f[9], &want_len);
        check(keywheel_format_record_len(format, &record_len) == KEYWHEEL_RESULT_OK &&
                  record_len == u64(f[7]),
              "format %u record length %zu", format, record_len);
        check(keywheel_ticket_keys_rendered_len(keys, format, &total) == KEYWHEEL_RESULT_OK &&
                  total == want_len && total == record_len * u64(f[8]),
              "format %u rendered length %zu, want %zu", format, total, want_len);
        uint8_t *buf = (uint8_t *)malloc(want_len + 1);
        memset(buf, SENTINEL, want_len + 1);
        keywheel_result r = keywheel_ticket_keys_render(keys, format, u64(f[6]), buf,
                                                        want_len + 1, &written);
        check(r == KEYWHEEL_RESULT_OK && written == want_len && memcmp(buf, want, want_len) == 0 &&
                  buf[want_len] == SENTINEL,
              "format %u keep %s at %s: rendered output differs", format, f[5], f[6]);
        free(buf);
        free(want);
        keywheel_ticket_keys_free(keys);
    } else if (strcmp(f[0], "error") == 0 && n == 3) {
        const char *op = f[1];
        /* Re-split: the fixed fields of each operation, then kind, then the message. */
        int fixed = strcmp(op, "main_key") == 0 || strcmp(op, "schedule") == 0 ? 1
                    : strcmp(op, "schedule_at") == 0 || strcmp(op, "label_key") == 0 ||
                            strcmp(op, "ticket_schedule") == 0
                        ? 2
                    : strcmp(op, "ticket_schedule_at") == 0 ? 3
                    : strcmp(op, "derive_key") == 0       ? 4
                    : strcmp(op, "format_render") == 0    ? 7
                                                          : -1;
        if (fixed < 0) {
            check(0, "unknown error operation %s", op);
            return;
        }
        /* f[2] holds the rest of the line: the fixed fields, the kind and the message. */
        char *g[MAX_FIELDS];
        int m = split(f[2], g, fixed + 2);
        if (m != fixed + 2) {
            check(0, "bad error line for %s", op);
            return;
        }
        const char *kind = g[fixed], *message = g[fixed + 1];
        keywheel_result r;
        if (strcmp(op, "main_key") == 0) {
            size_t len;
            uint8_t *material = unhex(g[0], &len);
            keywheel_main_key *mk = (keywheel_main_key *)(void *)&out; /* sentinel */
            r = keywheel_main_key_new(material, len, &mk);
            check(mk == (keywheel_main_key *)(void *)&out, "main_key: out written on failure");
            expect_error(r, kind, message, out, sizeof out, "main_key");
            free(material);
        } else if (strcmp(op, "schedule") == 0 || strcmp(op, "schedule_at") == 0) {
            uint64_t now = fixed == 2 ? u64(g[1]) : 1700000000;
            r = keywheel_schedule_at(u64(g[0]), now, (keywheel_slot *)(void *)out);
            expect_error(r, kind, message, out, sizeof(keywheel_slot), op);
        } else if (strcmp(op, "derive_key") == 0) {
            keywheel_main_key *mk = main_key_of(g[0]);
            size_t ctx_len;
            uint8_t *ctx = unhex(g[1], &ctx_len);
            size_t len = (size_t)u64(g[3]);
            r = keywheel_derive_key(mk, ctx, ctx_len, u64(g[2]), out, len);
            expect_error(r, kind, message, out, sizeof out, op);
            free(ctx);
            keywheel_main_key_free(mk);
        } else if (strcmp(op, "label_key") == 0 || strcmp(op, "ticket_schedule") == 0) {
            int is_label = strcmp(op, "label_key") == 0;
            keywheel_main_key *mk = main_key_of(is_label ? g[0] : "0101010101010101010101010101010101010101010101010101010101010101");
            size_t label_len = 1;
            uint8_t *label = is_label ? unhex(g[1], &label_len) : NULL;
            keywheel_ticket_keys *keys = (keywheel_ticket_keys *)(void *)&out; /* sentinel */
            r = keywheel_ticket_keys_new(mk, is_label ? label : (const uint8_t *)"x", label_len,
                                         KEYWHEEL_STRENGTH_AES256, is_label ? 3600 : u64(g[0]),
                                         is_label ? 1 : u64(g[1]), &keys);
            check(keys == (keywheel_ticket_keys *)(void *)&out, "%s: out written on failure", op);
            expect_error(r, kind, message, out, sizeof out, op);
            free(label);
            keywheel_main_key_free(mk);
        } else if (strcmp(op, "ticket_schedule_at") == 0) {
            keywheel_ticket_keys *keys = ticket_keys_of(
                "0101010101010101010101010101010101010101010101010101010101010101", "78",
                KEYWHEEL_STRENGTH_AES256, u64(g[0]), u64(g[1]));
            r = keywheel_ticket_keys_slot(keys, u64(g[2]), (keywheel_ticket_slot *)(void *)out);
            expect_error(r, kind, message, out, sizeof(keywheel_ticket_slot), op);
            keywheel_ticket_key key;
            memset(&key, SENTINEL, sizeof key);
            r = keywheel_ticket_keys_current(keys, u64(g[2]), &key);
            expect_error(r, kind, message, &key, sizeof key, "ticket_keys_current");
            keywheel_ticket_keys_free(keys);
        } else { /* format_render */
            uint32_t format = (uint32_t)u64(g[2]);
            uint32_t strength =
                (format == KEYWHEEL_FORMAT_NGINX || format == KEYWHEEL_FORMAT_HAPROXY ||
                 format == KEYWHEEL_FORMAT_OPENSSL)
                    ? KEYWHEEL_STRENGTH_AES256
                    : KEYWHEEL_STRENGTH_AES128;
            keywheel_ticket_keys *keys = ticket_keys_of(g[0], g[1], strength, u64(g[3]), u64(g[4]));
            size_t buf_len = (size_t)u64(g[6]);
            uint8_t *buf = (uint8_t *)malloc(buf_len + 1);
            memset(buf, SENTINEL, buf_len + 1);
            size_t written = 12345;
            r = keywheel_ticket_keys_render(keys, format, u64(g[5]), buf, buf_len, &written);
            expect_error(r, kind, message, buf, buf_len + 1, op);
            check(written == 12345, "format_render: out_written written on failure");
            free(buf);
            keywheel_ticket_keys_free(keys);
        }
    } else {
        check(0, "unknown vector line: %s", f[0]);
    }
}

/* Field by field: the struct has padding, which no function promises to write. */
static int same_key(const keywheel_ticket_key *a, const keywheel_ticket_key *b) {
    return memcmp(a->name, b->name, sizeof a->name) == 0 &&
           memcmp(a->aes_key, b->aes_key, sizeof a->aes_key) == 0 &&
           memcmp(a->hmac_key, b->hmac_key, sizeof a->hmac_key) == 0 &&
           a->key_len == b->key_len && a->counter == b->counter && a->strength == b->strength;
}

/* --- bad inputs beyond the vectors ----------------------------------------------------------- */

static const uint8_t MK[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                               17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

#define EXPECT(call, code, out, len)                                                              \
    do {                                                                                          \
        keywheel_result r_ = (call);                                                              \
        check(r_ == (code), "%s:%d: %s gave %u, want %s", __FILE__, __LINE__, #call,              \
              (unsigned)r_, #code);                                                               \
        check(untouched((out), (len)), "%s:%d: %s wrote its output on failure", __FILE__,          \
              __LINE__, #call);                                                                   \
    } while (0)

static void bad_inputs(const char *tmpdir) {
    uint8_t out[128];
    memset(out, SENTINEL, sizeof out);
    uint8_t out2[128];
    memset(out2, SENTINEL, sizeof out2);
    keywheel_main_key *mk = NULL;
    check(keywheel_main_key_new(MK, sizeof MK, &mk) == KEYWHEEL_RESULT_OK, "main key");
    keywheel_ticket_keys *keys = NULL;
    check(keywheel_ticket_keys_new(mk, (const uint8_t *)"svc", 3, KEYWHEEL_STRENGTH_AES256, 3600,
                                   1, &keys) == KEYWHEEL_RESULT_OK,
          "ticket keys");

    /* Handles: NULL pointers and short or missing key material. */
    keywheel_main_key *mk_out = (keywheel_main_key *)(void *)out; /* sentinel value */
    EXPECT(keywheel_main_key_new(NULL, 32, &mk_out), KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    EXPECT(keywheel_main_key_new(MK, 32, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    EXPECT(keywheel_main_key_new(MK, 31, &mk_out), KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT, out, 0);
    EXPECT(keywheel_main_key_new(MK, 0, &mk_out), KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT, out, 0);
    EXPECT(keywheel_main_key_new(MK, SIZE_MAX, &mk_out), KEYWHEEL_RESULT_INVALID_ARGUMENT, out, 0);
    EXPECT(keywheel_main_key_from_file(NULL, &mk_out), KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    EXPECT(keywheel_main_key_from_file("/nonexistent/keywheel.key", &mk_out), KEYWHEEL_RESULT_IO,
           out, 0);
    check(strstr(last_message(), "/nonexistent/keywheel.key") != NULL,
          "IO message names the file: %s", last_message());
    char path[4096];
    snprintf(path, sizeof path, "%s/short.key", tmpdir);
    FILE *f = fopen(path, "wb");
    check(f != NULL && fwrite(MK, 1, 31, f) == 31 && fclose(f) == 0 && chmod(path, 0600) == 0,
          "write %s", path);
    EXPECT(keywheel_main_key_from_file(path, &mk_out), KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT, out,
           0);
    check(ends_with(last_message(), "main key is 31 bytes; it must be at least 32 bytes"),
          "short key file message: %s", last_message());
    check(mk_out == (keywheel_main_key *)(void *)out, "main key handle written on failure");

    /* All-zero key material (SPEC.md 1): refused from bytes and from a file, with core's
     * message; one non-zero byte is a key. */
    static const char ZERO_MESSAGE[] = "main key is all zero bytes; it must be 32 random bytes "
                                       "(generate them with `keywheel gen-secret`)";
    uint8_t zeros[40] = {0};
    EXPECT(keywheel_main_key_new(zeros, 32, &mk_out), KEYWHEEL_RESULT_MAIN_KEY_ZERO, out, 0);
    check(ends_with(last_message(), ZERO_MESSAGE), "zero key message: %s", last_message());
    check(strcmp(keywheel_result_message(KEYWHEEL_RESULT_MAIN_KEY_ZERO),
                 "main key is all zero bytes; it must be 32 random bytes") == 0,
          "zero key code message: %s", keywheel_result_message(KEYWHEEL_RESULT_MAIN_KEY_ZERO));
    zeros[32] = 0xff; /* only the first 32 bytes are the key */
    EXPECT(keywheel_main_key_new(zeros, 40, &mk_out), KEYWHEEL_RESULT_MAIN_KEY_ZERO, out, 0);
    EXPECT(keywheel_main_key_new(zeros, 31, &mk_out), KEYWHEEL_RESULT_MAIN_KEY_TOO_SHORT, out, 0);
    check(mk_out == (keywheel_main_key *)(void *)out, "main key handle written on failure");
    zeros[31] = 1;
    keywheel_main_key *one = NULL;
    check(keywheel_main_key_new(zeros, 32, &one) == KEYWHEEL_RESULT_OK && one != NULL,
          "a key with one non-zero byte: %s", last_message());
    keywheel_main_key_free(one);
    snprintf(path, sizeof path, "%s/zero.key", tmpdir);
    f = fopen(path, "wb");
    zeros[31] = 0;
    check(f != NULL && fwrite(zeros, 1, 40, f) == 40 && fclose(f) == 0 && chmod(path, 0600) == 0,
          "write %s", path);
    EXPECT(keywheel_main_key_from_file(path, &mk_out), KEYWHEEL_RESULT_MAIN_KEY_ZERO, out, 0);
    check(strstr(last_message(), path) != NULL && ends_with(last_message(), ZERO_MESSAGE),
          "zero key file message: %s", last_message());
    EXPECT(keywheel_main_key_from_file_allow_insecure(path, &mk_out),
           KEYWHEEL_RESULT_MAIN_KEY_ZERO, out, 0);
    check(mk_out == (keywheel_main_key *)(void *)out, "main key handle written on failure");

    /* A file of 40 bytes: its first 32 are the key (same keys as from bytes). */
    snprintf(path, sizeof path, "%s/long.key", tmpdir);
    f = fopen(path, "wb");
    check(f != NULL && fwrite(MK, 1, 32, f) == 32 && fwrite("12345678", 1, 8, f) == 8 &&
              fclose(f) == 0 && chmod(path, 0600) == 0,
          "write %s", path);
    /* Group or others may read it: refused, naming the file and its mode. */
    check(chmod(path, 0640) == 0, "chmod %s", path);
    EXPECT(keywheel_main_key_from_file(path, &mk_out), KEYWHEEL_RESULT_KEY_FILE_INSECURE, out, 0);
    check(strstr(last_message(), path) != NULL && strstr(last_message(), "mode 0640") != NULL,
          "insecure key file message: %s", last_message());
    check(chmod(path, 0604) == 0, "chmod %s", path);
    EXPECT(keywheel_main_key_from_file(path, &mk_out), KEYWHEEL_RESULT_KEY_FILE_INSECURE, out, 0);
    check(mk_out == (keywheel_main_key *)(void *)out, "main key handle written on failure");
    check(chmod(path, 0600) == 0, "chmod %s", path);
    keywheel_main_key *from_file = NULL;
    check(keywheel_main_key_from_file(path, &from_file) == KEYWHEEL_RESULT_OK, "from file: %s",
          last_message());
    uint8_t a[32], b[32];
    check(keywheel_derive_key(mk, (const uint8_t *)"tofurkey", 8, 7, a, 32) == KEYWHEEL_RESULT_OK &&
              keywheel_derive_key(from_file, (const uint8_t *)"tofurkey", 8, 7, b, 32) ==
                  KEYWHEEL_RESULT_OK &&
              memcmp(a, b, 32) == 0,
          "a key file gives the key of its first 32 bytes");
    keywheel_main_key_free(from_file);

    /* The same loader as the CLI and Python: group/other access refused unless allowed. */
    static const mode_t open_modes[] = {0640, 0604, 0620, 0602, 0610, 0601, 0644};
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
        check(chmod(path, open_modes[i]) == 0, "chmod %s", path);
        EXPECT(keywheel_main_key_from_file(path, &mk_out), KEYWHEEL_RESULT_KEY_FILE_INSECURE, out,
               0);
        check(mk_out == (keywheel_main_key *)(void *)out, "main key handle written on failure");
        char want[8400];
        snprintf(want, sizeof want,
                 "%s has mode %04o, so group or others can access it; fix it with `chmod 600 %s` "
                 "(or pass keywheel_main_key_from_file_allow_insecure)",
                 path, (unsigned)open_modes[i], path);
        check(ends_with(last_message(), want), "insecure key file message: %s", last_message());
        from_file = NULL;
        check(keywheel_main_key_from_file_allow_insecure(path, &from_file) == KEYWHEEL_RESULT_OK,
              "allow_insecure reads a 0%o file: %s", (unsigned)open_modes[i], last_message());
        keywheel_main_key_free(from_file);
    }
    check(chmod(path, 0600) == 0, "chmod %s", path);
    EXPECT(keywheel_main_key_from_file_allow_insecure(NULL, &mk_out), KEYWHEEL_RESULT_NULL_POINTER,
           out, 0);
    /* Not regular files: a directory, a FIFO without writer (must not hang), a device. */
    EXPECT(keywheel_main_key_from_file_allow_insecure(tmpdir, &mk_out),
           KEYWHEEL_RESULT_KEY_FILE_NOT_REGULAR, out, 0);
    check(ends_with(last_message(), "is a directory; it must be a regular file"),
          "directory message: %s", last_message());
    char fifo[4096];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmpdir);
    check(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    EXPECT(keywheel_main_key_from_file(fifo, &mk_out), KEYWHEEL_RESULT_KEY_FILE_NOT_REGULAR, out,
           0);
    check(ends_with(last_message(), "is a FIFO; it must be a regular file"), "FIFO message: %s",
          last_message());
    unlink(fifo);
    EXPECT(keywheel_main_key_from_file_allow_insecure("/dev/null", &mk_out),
           KEYWHEEL_RESULT_KEY_FILE_NOT_REGULAR, out, 0);
    check(mk_out == (keywheel_main_key *)(void *)out, "main key handle written on failure");

    /* Fingerprint: hashlib.blake2b(b"", digest_size=8, key=MK, person=b"keywheel.mainfp"). */
    uint8_t fp[KEYWHEEL_FINGERPRINT_LEN];
    check(keywheel_main_key_fingerprint(mk, fp) == KEYWHEEL_RESULT_OK &&
              equal_hex(fp, sizeof fp, "57085b23931c036c"),
          "main key fingerprint");
    EXPECT(keywheel_main_key_fingerprint(NULL, out), KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    EXPECT(keywheel_main_key_fingerprint(mk, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    /* hashlib.blake2b(key16, digest_size=8, person=b"keywheel.tfofp"), key16 = SPEC 3.3's primary. */
    static const uint8_t TFO_PRIMARY[16] = {0xc9, 0x98, 0x25, 0x2e, 0x8f, 0x89, 0x66, 0x7d,
                                            0x31, 0x96, 0x1e, 0x08, 0x38, 0x97, 0x52, 0x6b};
    check(keywheel_tfo_key_fingerprint(TFO_PRIMARY, 16, fp) == KEYWHEEL_RESULT_OK &&
              equal_hex(fp, sizeof fp, "63f0af72476c6cbb"),
          "TFO key fingerprint");
    EXPECT(keywheel_tfo_key_fingerprint(TFO_PRIMARY, 15, out), KEYWHEEL_RESULT_INVALID_ARGUMENT, out,
           0);
    check(ends_with(last_message(), "TFO key is 15 bytes; it must be 16 bytes"),
          "TFO key length message: %s", last_message());
    EXPECT(keywheel_tfo_key_fingerprint(NULL, 16, out), KEYWHEEL_RESULT_NULL_POINTER, out, 0);

    /* Format names, from the core's table. */
    static const char *const format_names[] = {"nginx", "nginx48", "haproxy", "haproxy48",
                                               "apache", "ats",   "openssl"};
    check(keywheel_format_count() == 7, "format count %u", keywheel_format_count());
    for (uint32_t i = 1; i <= keywheel_format_count(); i++) {
        const char *name = NULL;
        uint32_t back = 0;
        check(keywheel_format_name(i, &name) == KEYWHEEL_RESULT_OK && name != NULL &&
                  strcmp(name, format_names[i - 1]) == 0,
              "format %u is %s", i, name ? name : "(null)");
        check(keywheel_format_from_name((const uint8_t *)format_names[i - 1],
                                        strlen(format_names[i - 1]), &back) == KEYWHEEL_RESULT_OK &&
                  back == i,
              "format %s is %u", format_names[i - 1], back);
    }
    check(KEYWHEEL_FORMAT_HAPROXY48 == 4 && KEYWHEEL_FORMAT_OPENSSL == 7, "format constants");
    const char *no_name = (const char *)out;
    check(keywheel_format_name(8, &no_name) == KEYWHEEL_RESULT_UNKNOWN_FORMAT &&
              no_name == (const char *)out,
          "format 8 has no name");
    uint32_t fmt_out = 99;
    check(keywheel_format_from_name((const uint8_t *)"NGINX", 5, &fmt_out) ==
                  KEYWHEEL_RESULT_UNKNOWN_FORMAT &&
              fmt_out == 99 &&
              ends_with(last_message(),
                        "it must be one of nginx, nginx48, haproxy, haproxy48, apache, ats, openssl"),
          "unknown format name: %s", last_message());

    /* Strengths by name (mod_keywheel's KeywheelStrength). */
    {
        uint32_t st = 99;
        check(keywheel_strength_from_name((const uint8_t *)"aes128", 6, &st) == KEYWHEEL_RESULT_OK &&
                  st == KEYWHEEL_STRENGTH_AES128,
              "aes128 is %u", st);
        check(keywheel_strength_from_name((const uint8_t *)"aes256", 6, &st) == KEYWHEEL_RESULT_OK &&
                  st == KEYWHEEL_STRENGTH_AES256,
              "aes256 is %u", st);
        st = 99;
        check(keywheel_strength_from_name((const uint8_t *)"AES128", 6, &st) ==
                      KEYWHEEL_RESULT_UNKNOWN_STRENGTH &&
                  st == 99 &&
                  ends_with(last_message(),
                            "strength \"AES128\" is unknown; it must be one of aes256, aes128"),
              "unknown strength name: %s", last_message());
        check(keywheel_strength_from_name((const uint8_t *)"aes128", 6, NULL) ==
                  KEYWHEEL_RESULT_NULL_POINTER,
              "strength name without out pointer");
    }

    /* Rollover (SPEC 5.2): nginx appends the other main key's window; haproxy does not. */
    {
        uint8_t other_mk[32];
        memset(other_mk, 7, sizeof other_mk);
        keywheel_main_key *omk = NULL;
        keywheel_ticket_keys *old = NULL;
        check(keywheel_main_key_new(other_mk, 32, &omk) == KEYWHEEL_RESULT_OK &&
                  keywheel_ticket_keys_new(omk, (const uint8_t *)"svc", 3, KEYWHEEL_STRENGTH_AES256,
                                           3600, 1, &old) == KEYWHEEL_RESULT_OK,
              "old main key's ticket keys");
        const keywheel_ticket_keys *extra[1] = {old};
        static uint8_t own[3 * 109], theirs[3 * 109], both[6 * 109];
        const uint32_t fmts[] = {KEYWHEEL_FORMAT_NGINX, KEYWHEEL_FORMAT_HAPROXY};
        for (size_t i = 0; i < 2; i++) {
            size_t n_own = 0, n_theirs = 0, n_both = 0, len = 0;
            check(keywheel_ticket_keys_render(keys, fmts[i], 1700000000, own, sizeof own, &n_own) ==
                          KEYWHEEL_RESULT_OK &&
                      keywheel_ticket_keys_render(old, fmts[i], 1700000000, theirs, sizeof theirs,
                                                  &n_theirs) == KEYWHEEL_RESULT_OK,
                  "render format %u", fmts[i]);
            check(keywheel_ticket_keys_rollover_len(keys, fmts[i], 1, &len) == KEYWHEEL_RESULT_OK,
                  "rollover_len");
            check(keywheel_ticket_keys_render_rollover(keys, fmts[i], 1700000000, extra, 1, both,
                                                       sizeof both, &n_both) == KEYWHEEL_RESULT_OK &&
                      n_both == len,
                  "render_rollover format %u: %s", fmts[i], last_message());
            if (fmts[i] == KEYWHEEL_FORMAT_NGINX) {
                check(n_both == n_own + n_theirs && memcmp(both, own, n_own) == 0 &&
                          memcmp(both + n_own, theirs, n_theirs) == 0,
                      "nginx rollover: own window, then the old main key's");
            } else {
                check(n_both == n_own && memcmp(both, own, n_own) == 0,
                      "haproxy rollover: own keys only");
            }
        }
        size_t wrote = 12345;
        check(keywheel_ticket_keys_render_rollover(keys, KEYWHEEL_FORMAT_NGINX, 1700000000, NULL, 1,
                                                   both, sizeof both, &wrote) ==
                      KEYWHEEL_RESULT_NULL_POINTER &&
                  wrote == 12345,
              "NULL decrypt_only with a length");
        check(keywheel_ticket_keys_render_rollover(keys, KEYWHEEL_FORMAT_NGINX, 1700000000, extra, 1,
                                                   both, 3 * 80, &wrote) ==
                      KEYWHEEL_RESULT_BUFFER_TOO_SMALL &&
                  wrote == 12345,
              "rollover buffer too small");
        keywheel_ticket_keys_free(old);
        keywheel_main_key_free(omk);
    }

    /* derive_key */
    const uint8_t *ctx = (const uint8_t *)"tofurkey";
    EXPECT(keywheel_derive_key(NULL, ctx, 8, 1, out, 32), KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_derive_key(mk, NULL, 8, 1, out, 32), KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_derive_key(mk, ctx, 8, 1, NULL, 32), KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_derive_key(mk, ctx, 7, 1, out, 32), KEYWHEEL_RESULT_CONTEXT_LENGTH, out, 128);
    EXPECT(keywheel_derive_key(mk, ctx, 9, 1, out, 32), KEYWHEEL_RESULT_CONTEXT_LENGTH, out, 128);
    EXPECT(keywheel_derive_key(mk, ctx, 8, 1, out, 15), KEYWHEEL_RESULT_OUTPUT_LENGTH, out, 128);
    EXPECT(keywheel_derive_key(mk, ctx, 8, 1, out, 65), KEYWHEEL_RESULT_OUTPUT_LENGTH, out, 128);
    EXPECT(keywheel_derive_key(mk, ctx, 8, 1, out, 0), KEYWHEEL_RESULT_OUTPUT_LENGTH, out, 128);

    /* schedule */
    EXPECT(keywheel_schedule_at(86400, 1700000000, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    EXPECT(keywheel_schedule_at(11, 1700000000, (keywheel_slot *)(void *)out),
           KEYWHEEL_RESULT_INTERVAL, out, sizeof(keywheel_slot));
    check(ends_with(last_message(), "interval 11 is odd; it must be even and in 10..=604800"),
          "interval message: %s", last_message());
    EXPECT(keywheel_schedule_at(86400, 999999, (keywheel_slot *)(void *)out), KEYWHEEL_RESULT_TIME,
           out, sizeof(keywheel_slot));

    /* TFO keys: each buffer needs 16 bytes; neither is written when one is short. */
    EXPECT(keywheel_tfo_keys(NULL, 86400, 1700000000, out, 16, out2, 16),
           KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_tfo_keys(mk, 86400, 1700000000, NULL, 16, out2, 16),
           KEYWHEEL_RESULT_NULL_POINTER, out2, 128);
    EXPECT(keywheel_tfo_keys(mk, 86400, 1700000000, out, 16, NULL, 16),
           KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_tfo_keys(mk, 86400, 1700000000, out, 16, out2, 15),
           KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out, 128);
    check(untouched(out2, 128), "tfo_keys: backup written on failure");
    EXPECT(keywheel_tfo_keys(mk, 86400, 1700000000, out, 15, out2, 16),
           KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out2, 128);
    EXPECT(keywheel_tfo_keys(mk, 86401, 1700000000, out, 16, out2, 16), KEYWHEEL_RESULT_INTERVAL,
           out, 128);
    EXPECT(keywheel_tfo_keys(mk, 86400, 100000000001ULL, out, 16, out2, 16), KEYWHEEL_RESULT_TIME,
           out2, 128);
    size_t written = 777;
    EXPECT(keywheel_tfo_procfs_text(mk, 86400, 1700000000, (char *)out, 71, &written),
           KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out, 128);
    EXPECT(keywheel_tfo_procfs_text(mk, 86400, 1700000000, (char *)out, 72, NULL),
           KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_tfo_procfs_text(mk, 8, 1700000000, (char *)out, 72, &written),
           KEYWHEEL_RESULT_INTERVAL, out, 128);
    check(written == 777, "procfs text: out_written written on failure");

    /* Ticket keys: labels, strengths, intervals, keeps. */
    keywheel_ticket_keys *tk_out = (keywheel_ticket_keys *)(void *)out; /* sentinel */
    uint8_t label[80];
    memset(label, 'x', sizeof label);
    EXPECT(keywheel_ticket_keys_new(NULL, label, 3, 1, 3600, 1, &tk_out),
           KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, NULL, 3, 1, 3600, 1, &tk_out),
           KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, label, 3, 1, 3600, 1, NULL), KEYWHEEL_RESULT_NULL_POINTER,
           out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, label, 0, 1, 3600, 1, &tk_out),
           KEYWHEEL_RESULT_LABEL_LENGTH, out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, label, 65, 1, 3600, 1, &tk_out),
           KEYWHEEL_RESULT_LABEL_LENGTH, out, 0);
    check(ends_with(last_message(), "label is 65 bytes; it must be 1..=64 bytes of UTF-8"),
          "label message: %s", last_message());
    const uint8_t not_utf8[] = {'a', 0xff, 'b'};
    EXPECT(keywheel_ticket_keys_new(mk, not_utf8, 3, 1, 3600, 1, &tk_out),
           KEYWHEEL_RESULT_LABEL_NOT_UTF8, out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, label, 3, 0, 3600, 1, &tk_out),
           KEYWHEEL_RESULT_UNKNOWN_STRENGTH, out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, label, 3, 3, 3600, 1, &tk_out),
           KEYWHEEL_RESULT_UNKNOWN_STRENGTH, out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, label, 3, 1, 3601, 1, &tk_out), KEYWHEEL_RESULT_INTERVAL,
           out, 0);
    EXPECT(keywheel_ticket_keys_new(mk, label, 3, 1, 86400, 7, &tk_out), KEYWHEEL_RESULT_KEEP, out,
           0);
    check(tk_out == (keywheel_ticket_keys *)(void *)out, "ticket keys handle written on failure");
    keywheel_ticket_keys *tk64 = NULL;
    check(keywheel_ticket_keys_new(mk, label, 64, 2, 10, 60479, &tk64) == KEYWHEEL_RESULT_OK,
          "64-byte label, the longest keep: %s", last_message());
    keywheel_ticket_keys_free(tk64);

    /* current, lookup, slot */
    keywheel_ticket_key key;
    memset(&key, SENTINEL, sizeof key);
    keywheel_lookup found = (keywheel_lookup)77;
    EXPECT(keywheel_ticket_keys_current(NULL, 1700000000, &key), KEYWHEEL_RESULT_NULL_POINTER,
           &key, sizeof key);
    EXPECT(keywheel_ticket_keys_current(keys, 1700000000, NULL), KEYWHEEL_RESULT_NULL_POINTER,
           &key, sizeof key);
    EXPECT(keywheel_ticket_keys_current(keys, 999999, &key), KEYWHEEL_RESULT_TIME, &key,
           sizeof key);
    EXPECT(keywheel_ticket_keys_by_counter(keys, 1, NULL), KEYWHEEL_RESULT_NULL_POINTER, &key,
           sizeof key);
    EXPECT(keywheel_ticket_keys_slot(keys, 0, (keywheel_ticket_slot *)(void *)out),
           KEYWHEEL_RESULT_TIME, out, 128);
    uint8_t name[17] = {0};
    EXPECT(keywheel_ticket_keys_lookup(NULL, 1700000000, name, 16, &found, &key),
           KEYWHEEL_RESULT_NULL_POINTER, &key, sizeof key);
    EXPECT(keywheel_ticket_keys_lookup(keys, 1700000000, NULL, 16, &found, &key),
           KEYWHEEL_RESULT_NULL_POINTER, &key, sizeof key);
    EXPECT(keywheel_ticket_keys_lookup(keys, 1700000000, name, 16, NULL, &key),
           KEYWHEEL_RESULT_NULL_POINTER, &key, sizeof key);
    EXPECT(keywheel_ticket_keys_lookup(keys, 1700000000, name, 16, &found, NULL),
           KEYWHEEL_RESULT_NULL_POINTER, &key, sizeof key);
    EXPECT(keywheel_ticket_keys_lookup(keys, 5, name, 16, &found, &key), KEYWHEEL_RESULT_TIME,
           &key, sizeof key);
    check((uint32_t)found == 77, "lookup: found written on failure");
    /* The current name with one byte too many or too few matches nothing. */
    keywheel_ticket_key current;
    check(keywheel_ticket_keys_current(keys, 1700000000, &current) == KEYWHEEL_RESULT_OK,
          "current key");
    memcpy(name, current.name, 16);
    EXPECT(keywheel_ticket_keys_lookup(keys, 1700000000, name, 17, &found, &key),
           KEYWHEEL_RESULT_OK, &key, sizeof key);
    check(found == KEYWHEEL_LOOKUP_NOT_FOUND, "17-byte name: not found");
    EXPECT(keywheel_ticket_keys_lookup(keys, 1700000000, name, 15, &found, &key),
           KEYWHEEL_RESULT_OK, &key, sizeof key);
    check(found == KEYWHEEL_LOOKUP_NOT_FOUND, "15-byte name: not found");
    check(keywheel_ticket_keys_lookup(keys, 1700000000, name, 16, &found, &key) ==
                  KEYWHEEL_RESULT_OK &&
              found == KEYWHEEL_LOOKUP_CURRENT && same_key(&key, &current),
          "the current name is found as current");
    /* An hour later the same key is the previous one: accepted (renew). */
    check(keywheel_ticket_keys_lookup(keys, 1700000000 + 3600, name, 16, &found, &key) ==
                  KEYWHEEL_RESULT_OK &&
              found == KEYWHEEL_LOOKUP_ACCEPTED && key.counter == current.counter,
          "the previous interval's name is accepted");
    /* Two hours later (keep 1) it is gone. */
    check(keywheel_ticket_keys_lookup(keys, 1700000000 + 7200, name, 16, &found, &key) ==
                  KEYWHEEL_RESULT_OK &&
              found == KEYWHEEL_LOOKUP_NOT_FOUND,
          "a name older than the window is not found");
    keywheel_ticket_key_wipe(&key);
    keywheel_ticket_key_wipe(&current);
    keywheel_ticket_key zero_key;
    memset(&zero_key, 0, sizeof zero_key);
    check(same_key(&current, &zero_key), "wipe zeroes the key");
    keywheel_ticket_key_wipe(NULL);

    /* render */
    size_t len = 555;
    memset(out, SENTINEL, sizeof out);
    EXPECT(keywheel_ticket_keys_render(keys, 0, 1700000000, out, 128, &len),
           KEYWHEEL_RESULT_UNKNOWN_FORMAT, out, 128);
    EXPECT(keywheel_ticket_keys_render(keys, 8, 1700000000, out, 128, &len),
           KEYWHEEL_RESULT_UNKNOWN_FORMAT, out, 128);
    EXPECT(keywheel_ticket_keys_render(keys, KEYWHEEL_FORMAT_APACHE, 1700000000, out, 128, &len),
           KEYWHEEL_RESULT_FORMAT_STRENGTH, out, 128);
    EXPECT(keywheel_ticket_keys_render(keys, KEYWHEEL_FORMAT_OPENSSL, 1700000000, out, 79, &len),
           KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out, 128);
    EXPECT(keywheel_ticket_keys_render(keys, KEYWHEEL_FORMAT_OPENSSL, 1700000000, NULL, 80, &len),
           KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_ticket_keys_render(keys, KEYWHEEL_FORMAT_OPENSSL, 1700000000, out, 80, NULL),
           KEYWHEEL_RESULT_NULL_POINTER, out, 128);
    EXPECT(keywheel_ticket_keys_render(keys, KEYWHEEL_FORMAT_OPENSSL, 1, out, 80, &len),
           KEYWHEEL_RESULT_TIME, out, 128);
    EXPECT(keywheel_ticket_keys_rendered_len(keys, 99, &len), KEYWHEEL_RESULT_UNKNOWN_FORMAT, out,
           0);
    EXPECT(keywheel_format_record_len(0, &len), KEYWHEEL_RESULT_UNKNOWN_FORMAT, out, 0);
    EXPECT(keywheel_format_record_len(1, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 0);
    check(len == 555, "render: out_written written on failure");
    keywheel_ticket_keys *keep2 = NULL;
    check(keywheel_ticket_keys_new(mk, label, 3, 1, 3600, 2, &keep2) == KEYWHEEL_RESULT_OK,
          "keep 2");
    EXPECT(keywheel_ticket_keys_render(keep2, KEYWHEEL_FORMAT_HAPROXY, 1700000000, out, 128, &len),
           KEYWHEEL_RESULT_FORMAT_KEEP, out, 128);
    EXPECT(keywheel_ticket_keys_rendered_len(keep2, KEYWHEEL_FORMAT_HAPROXY, &len),
           KEYWHEEL_RESULT_FORMAT_KEEP, out, 0);
    keywheel_ticket_keys_free(keep2);

    /* A decrypt-only count whose output no buffer holds (found by AFL, target c_api): refused,
     * not a wrapped length or a panic. */
    len = 7;
    EXPECT(keywheel_ticket_keys_rollover_len(keys, KEYWHEEL_FORMAT_NGINX, SIZE_MAX, &len),
           KEYWHEEL_RESULT_INVALID_ARGUMENT, out, 0);
    check(len == 7 && strstr(last_message(), "decrypt-only count") != NULL,
          "rollover_len SIZE_MAX: %zu, %s", len, last_message());
    EXPECT(keywheel_ticket_keys_rollover_len(keys, KEYWHEEL_FORMAT_NGINX, SIZE_MAX / 80, &len),
           KEYWHEEL_RESULT_INVALID_ARGUMENT, out, 0);

    /* Messages and versions. */
    for (uint32_t code = 0; code <= KEYWHEEL_RESULT_MAIN_KEY_ZERO; code++) {
        const char *m = keywheel_result_message(code);
        check(m != NULL && strlen(m) > 0 && strcmp(m, "unknown result code") != 0,
              "message of code %u", code);
    }
    check(strcmp(keywheel_result_message(KEYWHEEL_RESULT_MAIN_KEY_ZERO + 1),
                 "unknown result code") == 0,
          "message of an unknown code");
    check(strcmp(keywheel_result_message(0xffffffffu), "unknown result code") == 0,
          "message of 0xffffffff");
    char small[8];
    memset(small, SENTINEL, sizeof small);
    size_t msg_len = 999;
    EXPECT(keywheel_last_error_message(small, sizeof small, &msg_len),
           KEYWHEEL_RESULT_BUFFER_TOO_SMALL, small, sizeof small);
    EXPECT(keywheel_last_error_message(NULL, 100, &msg_len), KEYWHEEL_RESULT_NULL_POINTER, small,
           sizeof small);
    EXPECT(keywheel_last_error_message(small, sizeof small, NULL), KEYWHEEL_RESULT_NULL_POINTER,
           small, sizeof small);
    check(msg_len == 999, "last_error_message: out_len written on failure");
    check(strcmp(keywheel_version(), KEYWHEEL_VERSION_STRING) == 0, "library %s, header %s",
          keywheel_version(), KEYWHEEL_VERSION_STRING);
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", KEYWHEEL_VERSION_MAJOR, KEYWHEEL_VERSION_MINOR,
             KEYWHEEL_VERSION_PATCH);
    check(strcmp(version, KEYWHEEL_VERSION_STRING) == 0, "version macros agree");

    keywheel_main_key_free(NULL);
    keywheel_ticket_keys_free(NULL);
    keywheel_ticket_keys_free(keys);
    keywheel_main_key_free(mk);
}

/* --- one handle, many threads ---------------------------------------------------------------- */

struct thread_arg {
    const keywheel_ticket_keys *keys;
    uint64_t base;
    unsigned mismatches;
};

static void *hammer(void *p) {
    struct thread_arg *arg = (struct thread_arg *)p;
    for (uint64_t i = 0; i < 250; i++) {
        uint64_t now = arg->base + i * 997;
        keywheel_ticket_key cur, got;
        keywheel_lookup found;
        if (keywheel_ticket_keys_current(arg->keys, now, &cur) != KEYWHEEL_RESULT_OK ||
            keywheel_ticket_keys_lookup(arg->keys, now, cur.name, 16, &found, &got) !=
                KEYWHEEL_RESULT_OK ||
            found != KEYWHEEL_LOOKUP_CURRENT || !same_key(&cur, &got)) {
            arg->mismatches++;
        }
        keywheel_ticket_key_wipe(&cur);
        keywheel_ticket_key_wipe(&got);
    }
    return NULL;
}

static void threads(void) {
    keywheel_main_key *mk = NULL;
    keywheel_ticket_keys *keys = NULL;
    check(keywheel_main_key_new(MK, sizeof MK, &mk) == KEYWHEEL_RESULT_OK &&
              keywheel_ticket_keys_new(mk, (const uint8_t *)"threads", 7, 1, 600, 2, &keys) ==
                  KEYWHEEL_RESULT_OK,
          "handles for threads");
    keywheel_main_key_free(mk);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].keys = keys;
        args[i].base = 1700000000 + (uint64_t)i * 12345;
        args[i].mismatches = 0;
        check(pthread_create(&t[i], NULL, hammer, &args[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        check(args[i].mismatches == 0, "thread %d: %u mismatches", i, args[i].mismatches);
    }
    keywheel_ticket_keys_free(keys);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: api_test VECTORS.txt\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[n - 1] = '\0';
        run_vector(line);
    }
    free(line);
    fclose(f);
    check(vector_lines >= 400, "read %u vector lines, expected at least 400", vector_lines);

    char tmpdir[] = "/tmp/keywheel-api-test-XXXXXX";
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    bad_inputs(tmpdir);
    char path[4096];
    snprintf(path, sizeof path, "%s/short.key", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/long.key", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/zero.key", tmpdir);
    unlink(path);
    check(rmdir(tmpdir) == 0, "temporary directory %s removed", tmpdir);

    threads();

    printf("%u vector lines\n%u passed, %u failed\n", vector_lines, passed, failed);
    return failed == 0 ? 0 : 1;
}
