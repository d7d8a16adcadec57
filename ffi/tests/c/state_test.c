/*
 * The forward-secure C API (keywheel_state_*, keywheel_ticket_keys_from_state, _advance,
 * keywheel_state_tfo_keys) checked from C: the shared fs_* vectors (converted to lines by
 * vectors_to_lines.forward_lines) and every bad input, which must give its result code and
 * message and leave every output untouched.
 *
 *   state_test VECTORS.txt TMPDIR
 *
 * Prints one line per failure and "N passed, N failed" at the end; exit status 0 when none
 * failed. Built with -Wall -Wextra -Werror, and run under ASan+UBSan and valgrind.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "keywheel.h"

static unsigned passed, failed, vector_lines;

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

static uint8_t *unhex(const char *hex, size_t *len) {
    size_t n = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
    uint8_t *out = (uint8_t *)malloc(n + 1);
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

static const uint8_t SENTINEL = 0xa5;

static int untouched(const void *buf, size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != SENTINEL) return 0;
    }
    return 1;
}

static keywheel_result code_of(const char *kind) {
    static const struct {
        const char *kind;
        keywheel_result code;
    } kinds[] = {
        {"SeedLength", KEYWHEEL_RESULT_SEED_LENGTH},
        {"TreeTime", KEYWHEEL_RESULT_TREE_TIME},
        {"KeyTime", KEYWHEEL_RESULT_TREE_TIME},
        {"Backwards", KEYWHEEL_RESULT_BACKWARDS},
        {"Punctured", KEYWHEEL_RESULT_PUNCTURED},
        {"KeyPunctured", KEYWHEEL_RESULT_PUNCTURED},
        {"StateFile", KEYWHEEL_RESULT_STATE_FILE},
        {"Interval", KEYWHEEL_RESULT_INTERVAL},
        {"LabelLength", KEYWHEEL_RESULT_LABEL_LENGTH},
        {"Time", KEYWHEEL_RESULT_TIME},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].kind, kind) == 0) return kinds[i].code;
    }
    return KEYWHEEL_RESULT_OK;
}

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

static keywheel_state *state_of(const char *seed_hex, uint64_t s0) {
    size_t len;
    uint8_t *seed = unhex(seed_hex, &len);
    keywheel_state *state = NULL;
    keywheel_result r = keywheel_state_new(seed, len, s0, &state);
    free(seed);
    check(r == KEYWHEEL_RESULT_OK, "state %s at %" PRIu64 ": %s", seed_hex, s0, last_message());
    return state;
}

/* The state's file equals `hex`. */
static int file_is(const keywheel_state *state, const char *hex) {
    uint8_t buf[KEYWHEEL_STATE_FILE_MAX_LEN + 1];
    memset(buf, SENTINEL, sizeof buf);
    size_t n = 0;
    return keywheel_state_to_bytes(state, buf, sizeof buf, &n) == KEYWHEEL_RESULT_OK &&
           equal_hex(buf, n, hex) && buf[n] == SENTINEL;
}

static void run_vector(char *line) {
    char *f[MAX_FIELDS];
    int max = MAX_FIELDS;
    if (strncmp(line, "fs_ticket_keys_error ", 21) == 0) max = 11;
    else if (strncmp(line, "fs_ticket_key_error ", 20) == 0) max = 9;
    else if (strncmp(line, "fs_advance_error ", 17) == 0) max = 6;
    else if (strncmp(line, "fs_file_error ", 14) == 0) max = 4;
    else if (strncmp(line, "fs_new_error ", 13) == 0) max = 5;
    else if (strncmp(line, "fs_go_seed_error ", 17) == 0) max = 10;
    else if (strncmp(line, "fs_go_seeds_error ", 18) == 0) max = 9;
    int n = split(line, f, max);
    if (n == 0) return;
    vector_lines++;
    uint8_t out[64];
    memset(out, SENTINEL, sizeof out);

    if (strcmp(f[0], "fs_state") == 0 && n == 6) {
        keywheel_state *state = state_of(f[1], u64(f[2]));
        uint64_t s0 = 0;
        size_t count = 0;
        uint8_t id[KEYWHEEL_ROOT_ID_LEN];
        check(keywheel_state_s0(state, &s0) == KEYWHEEL_RESULT_OK && s0 == u64(f[2]) &&
                  keywheel_state_node_count(state, &count) == KEYWHEEL_RESULT_OK &&
                  count == u64(f[4]) &&
                  keywheel_state_root_id(state, id, sizeof id) == KEYWHEEL_RESULT_OK &&
                  equal_hex(id, sizeof id, f[3]),
              "state %s at %s: s0, node count or root id", f[1], f[2]);
        check(file_is(state, f[5]), "state %s at %s: file differs", f[1], f[2]);
        keywheel_state_free(state);
        /* The file read back gives the same file. */
        size_t len;
        uint8_t *bytes = unhex(f[5], &len);
        keywheel_state *back = NULL;
        check(keywheel_state_from_bytes(bytes, len, &back) == KEYWHEEL_RESULT_OK &&
                  file_is(back, f[5]),
              "state file of %s at %s read back: %s", f[1], f[2], last_message());
        keywheel_state_free(back);
        free(bytes);
    } else if (strcmp(f[0], "fs_ticket_key") == 0 && n == 10) {
        /* seed s0 label strength interval counter name aes hmac: through a handle made at the
         * key's own start with keep 0. */
        keywheel_state *state = state_of(f[1], u64(f[2]));
        size_t label_len;
        uint8_t *label = unhex(f[3], &label_len);
        uint32_t strength = (uint32_t)u64(f[4]);
        uint64_t interval = u64(f[5]), counter = u64(f[6]);
        keywheel_ticket_keys *keys = NULL;
        keywheel_result r = keywheel_ticket_keys_from_state(state, label, label_len, strength,
                                                            interval, 0, counter * interval, &keys);
        check(r == KEYWHEEL_RESULT_OK, "ticket keys from state: %s", last_message());
        keywheel_state_free(state); /* the handle does not refer to it */
        keywheel_ticket_key key;
        r = keywheel_ticket_keys_by_counter(keys, counter, &key);
        size_t klen = strength == KEYWHEEL_STRENGTH_AES256 ? 32 : 16;
        check(r == KEYWHEEL_RESULT_OK && key.key_len == klen && key.counter == counter &&
                  equal_hex(key.name, 16, f[7]) && equal_hex(key.aes_key, klen, f[8]) &&
                  equal_hex(key.hmac_key, klen, f[9]),
              "fs ticket key label %s counter %s", f[3], f[6]);
        keywheel_ticket_key cur;
        r = keywheel_ticket_keys_current(keys, counter * interval, &cur);
        check(r == KEYWHEEL_RESULT_OK && memcmp(cur.name, key.name, 16) == 0,
              "fs current key counter %s", f[6]);
        keywheel_lookup found = KEYWHEEL_LOOKUP_NOT_FOUND;
        keywheel_ticket_key got;
        r = keywheel_ticket_keys_lookup(keys, counter * interval, key.name, 16, &found, &got);
        check(r == KEYWHEEL_RESULT_OK && found == KEYWHEEL_LOOKUP_CURRENT &&
                  memcmp(got.aes_key, key.aes_key, klen) == 0,
              "fs lookup counter %s", f[6]);
        keywheel_ticket_key_wipe(&key);
        keywheel_ticket_key_wipe(&cur);
        keywheel_ticket_key_wipe(&got);
        /* The key before is punctured: the handle holds nothing older than its window. */
        memset(&key, SENTINEL, sizeof key);
        r = keywheel_ticket_keys_by_counter(keys, counter - 1, &key);
        check(r == KEYWHEEL_RESULT_PUNCTURED && ends_with(last_message(), ": it was punctured") &&
                  untouched(&key, sizeof key),
              "fs key before the window: result %u, %s", (unsigned)r, last_message());
        keywheel_ticket_keys_free(keys);
        free(label);
    } else if (strcmp(f[0], "fs_ticket_keys") == 0 && n == 11) {
        /* format strength seed s0 label interval keep time state_start output */
        keywheel_state *state = state_of(f[3], u64(f[4]));
        size_t label_len, want_len, total = 0, written = 0;
        uint8_t *label = unhex(f[5], &label_len);
        uint8_t *want = unhex(f[10], &want_len);
        uint32_t format = (uint32_t)u64(f[1]);
        keywheel_ticket_keys *keys = NULL;
        keywheel_result r =
            keywheel_ticket_keys_from_state(state, label, label_len, (uint32_t)u64(f[2]),
                                            u64(f[6]), u64(f[7]), u64(f[8]), &keys);
        check(r == KEYWHEEL_RESULT_OK, "fs ticket keys format %u: %s", format, last_message());
        /* Advancing the caller's state past the window does not change the handle. */
        check(keywheel_state_advance(state, u64(f[8])) == KEYWHEEL_RESULT_OK, "advance state");
        keywheel_state_free(state);
        check(keywheel_ticket_keys_rendered_len(keys, format, &total) == KEYWHEEL_RESULT_OK &&
                  total == want_len,
              "fs format %u rendered length %zu, want %zu", format, total, want_len);
        uint8_t *buf = (uint8_t *)malloc(want_len + 1);
        memset(buf, SENTINEL, want_len + 1);
        r = keywheel_ticket_keys_render(keys, format, u64(f[8]), buf, want_len + 1, &written);
        check(r == KEYWHEEL_RESULT_OK && written == want_len &&
                  memcmp(buf, want, want_len) == 0 && buf[want_len] == SENTINEL,
              "fs format %u at %s: rendered output differs", format, f[8]);
        /* keep + 1 intervals earlier, every key of the format is before the handle's copy of
         * the state (which starts at the oldest key accepted at `time`, or later). */
        uint64_t earlier = u64(f[8]) - (u64(f[7]) + 1) * u64(f[6]);
        memset(buf, SENTINEL, want_len + 1);
        written = 12345;
        r = keywheel_ticket_keys_render(keys, format, earlier, buf, want_len + 1, &written);
        check(r == KEYWHEEL_RESULT_PUNCTURED && untouched(buf, want_len + 1) && written == 12345 &&
                  strstr(last_message(), "state starts at ") != NULL &&
                  strstr(last_message(), ": it was punctured") != NULL,
              "fs format %u keep + 1 intervals earlier: result %u, %s", format, (unsigned)r,
              last_message());
        /* Advanced by keep + 1 intervals, the handle renders then but no longer at `time`. */
        uint64_t later = u64(f[8]) + (u64(f[7]) + 1) * u64(f[6]);
        check(keywheel_ticket_keys_advance(keys, later) == KEYWHEEL_RESULT_OK,
              "advance ticket keys: %s", last_message());
        r = keywheel_ticket_keys_render(keys, format, later, buf, want_len + 1, &written);
        check(r == KEYWHEEL_RESULT_OK, "fs format %u after advance: %s", format, last_message());
        r = keywheel_ticket_keys_render(keys, format, u64(f[8]), buf, want_len + 1, &written);
        check(r == KEYWHEEL_RESULT_PUNCTURED, "fs format %u at time after advance: result %u",
              format, (unsigned)r);
        free(buf);
        free(want);
        free(label);
        keywheel_ticket_keys_free(keys);
    } else if ((strcmp(f[0], "fs_go_seed") == 0 || strcmp(f[0], "fs_go_seed_error") == 0 ||
                strcmp(f[0], "go_seed") == 0) &&
               n >= 7) {
        /* fs_go_seed seed s0 label interval keep time counter seed
         * fs_go_seed_error seed s0 label interval keep time counter kind message
         * go_seed main label interval keep counter seed */
        int fs = f[0][0] == 'f', err = strcmp(f[0], "fs_go_seed_error") == 0;
        size_t label_len, want_len = 0;
        uint8_t *label = unhex(f[fs ? 3 : 2], &label_len);
        uint64_t interval = u64(f[fs ? 4 : 3]), keep = u64(f[fs ? 5 : 4]);
        uint64_t counter = u64(f[fs ? 7 : 5]);
        keywheel_ticket_keys *keys = NULL;
        keywheel_result r;
        if (fs) {
            keywheel_state *state = state_of(f[1], u64(f[2]));
            r = keywheel_ticket_keys_from_state(state, label, label_len, KEYWHEEL_STRENGTH_AES128,
                                                interval, keep, u64(f[6]), &keys);
            keywheel_state_free(state);
        } else {
            size_t main_len;
            uint8_t *main = unhex(f[1], &main_len);
            keywheel_main_key *mk = NULL;
            check(keywheel_main_key_new(main, main_len, &mk) == KEYWHEEL_RESULT_OK, "main key");
            free(main);
            r = keywheel_ticket_keys_new(mk, label, label_len, KEYWHEEL_STRENGTH_AES256, interval,
                                         keep, &keys);
            keywheel_main_key_free(mk);
        }
        check(r == KEYWHEEL_RESULT_OK, "%s keys: %s", f[0], last_message());
        uint8_t seed[KEYWHEEL_GO_SEED_LEN + 1];
        memset(seed, SENTINEL, sizeof seed);
        r = keywheel_ticket_keys_go_seed(keys, counter, seed, sizeof seed);
        if (err) {
            expect_error(r, f[8], f[9], seed, sizeof seed, "fs_go_seed_error");
        } else {
            uint8_t *want = unhex(f[fs ? 8 : 6], &want_len);
            check(r == KEYWHEEL_RESULT_OK && want_len == KEYWHEEL_GO_SEED_LEN &&
                      memcmp(seed, want, want_len) == 0 && seed[KEYWHEEL_GO_SEED_LEN] == SENTINEL,
                  "%s counter %" PRIu64 ": seed differs (%s)", f[0], counter, last_message());
            free(want);
            /* A buffer one byte short: refused, untouched. */
            memset(seed, SENTINEL, sizeof seed);
            r = keywheel_ticket_keys_go_seed(keys, counter, seed, KEYWHEEL_GO_SEED_LEN - 1);
            check(r == KEYWHEEL_RESULT_BUFFER_TOO_SMALL && untouched(seed, sizeof seed) &&
                      ends_with(last_message(),
                                "output buffer is 31 bytes; it must be at least 32 bytes"),
                  "%s short buffer: result %u, %s", f[0], (unsigned)r, last_message());
            r = keywheel_ticket_keys_go_seed(keys, counter, NULL, sizeof seed);
            check(r == KEYWHEEL_RESULT_NULL_POINTER, "%s NULL out: result %u", f[0], (unsigned)r);
        }
        keywheel_ticket_keys_free(keys);
        free(label);
    } else if (strcmp(f[0], "fs_go_seeds_error") == 0 && n == 9) {
        keywheel_state *state = state_of(f[1], u64(f[2]));
        size_t label_len;
        uint8_t *label = unhex(f[3], &label_len);
        keywheel_ticket_keys *keys = (keywheel_ticket_keys *)(void *)out; /* sentinel */
        keywheel_result r =
            keywheel_ticket_keys_from_state(state, label, label_len, KEYWHEEL_STRENGTH_AES256,
                                            u64(f[4]), u64(f[5]), u64(f[6]), &keys);
        check(keys == (keywheel_ticket_keys *)(void *)out, "fs go seeds: out written");
        expect_error(r, f[7], f[8], out, sizeof out, "fs_go_seeds_error");
        keywheel_state_free(state);
        free(label);
    } else if (strcmp(f[0], "fs_ticket_keys_error") == 0 && n == 11) {
        keywheel_state *state = state_of(f[3], u64(f[4]));
        size_t label_len;
        uint8_t *label = unhex(f[5], &label_len);
        keywheel_ticket_keys *keys = (keywheel_ticket_keys *)(void *)out; /* sentinel */
        keywheel_result r =
            keywheel_ticket_keys_from_state(state, label, label_len, (uint32_t)u64(f[2]),
                                            u64(f[6]), u64(f[7]), u64(f[8]), &keys);
        check(keys == (keywheel_ticket_keys *)(void *)out, "fs ticket keys: out written");
        expect_error(r, f[9], f[10], out, sizeof out, "fs_ticket_keys");
        keywheel_state_free(state);
        free(label);
    } else if (strcmp(f[0], "fs_ticket_key_error") == 0 && n == 9) {
        keywheel_state *state = state_of(f[1], u64(f[2]));
        size_t label_len;
        uint8_t *label = unhex(f[3], &label_len);
        uint64_t interval = u64(f[5]), counter = u64(f[6]);
        keywheel_ticket_keys *keys = (keywheel_ticket_keys *)(void *)out;
        keywheel_result r = keywheel_ticket_keys_from_state(
            state, label, label_len, (uint32_t)u64(f[4]), interval, 0, counter * interval, &keys);
        check(keys == (keywheel_ticket_keys *)(void *)out, "fs ticket key: out written");
        expect_error(r, f[7], f[8], out, sizeof out, "fs_ticket_key");
        keywheel_state_free(state);
        free(label);
    } else if (strcmp(f[0], "fs_tfo") == 0 && n == 7) {
        keywheel_state *state = state_of(f[1], u64(f[2]));
        uint8_t primary[17], backup[17];
        memset(primary, SENTINEL, sizeof primary);
        memset(backup, SENTINEL, sizeof backup);
        keywheel_result r =
            keywheel_state_tfo_keys(state, u64(f[3]), u64(f[4]), primary, 16, backup, 16);
        check(r == KEYWHEEL_RESULT_OK && equal_hex(primary, 16, f[5]) &&
                  equal_hex(backup, 16, f[6]) && primary[16] == SENTINEL &&
                  backup[16] == SENTINEL,
              "fs tfo %s at %s: %s", f[3], f[4], last_message());
        keywheel_state_free(state);
    } else if (strcmp(f[0], "fs_advance") == 0 && n == 5) {
        keywheel_state *state = state_of(f[1], u64(f[2]));
        check(keywheel_state_advance(state, u64(f[3])) == KEYWHEEL_RESULT_OK &&
                  file_is(state, f[4]),
              "advance %s to %s", f[2], f[3]);
        keywheel_state_free(state);
    } else if (strcmp(f[0], "fs_advance_error") == 0 && n == 6) {
        keywheel_state *state = state_of(f[1], u64(f[2]));
        uint8_t before[KEYWHEEL_STATE_FILE_MAX_LEN];
        size_t before_len = 0, after_len = 0;
        uint8_t after[KEYWHEEL_STATE_FILE_MAX_LEN];
        keywheel_state_to_bytes(state, before, sizeof before, &before_len);
        keywheel_result r = keywheel_state_advance(state, u64(f[3]));
        expect_error(r, f[4], f[5], out, sizeof out, "fs_advance");
        keywheel_state_to_bytes(state, after, sizeof after, &after_len);
        check(before_len == after_len && memcmp(before, after, before_len) == 0,
              "advance %s to %s: state changed on failure", f[2], f[3]);
        keywheel_state_free(state);
    } else if (strcmp(f[0], "fs_file_error") == 0 && n == 4) {
        size_t len;
        uint8_t *bytes = unhex(f[1], &len);
        keywheel_state *state = (keywheel_state *)(void *)out;
        keywheel_result r = keywheel_state_from_bytes(bytes, len, &state);
        check(state == (keywheel_state *)(void *)out, "state file: out written on failure");
        expect_error(r, f[2], f[3], out, sizeof out, "fs_file_error");
        free(bytes);
    } else if (strcmp(f[0], "fs_new_error") == 0 && n == 5) {
        size_t len;
        uint8_t *seed = unhex(f[1], &len);
        keywheel_state *state = (keywheel_state *)(void *)out;
        keywheel_result r = keywheel_state_new(seed, len, u64(f[2]), &state);
        check(state == (keywheel_state *)(void *)out, "state new: out written on failure");
        expect_error(r, f[3], f[4], out, sizeof out, "fs_new_error");
        free(seed);
    } else {
        check(0, "unknown vector line: %s (%d fields)", f[0], n);
    }
}

static const uint8_t SEED[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

#define EXPECT(call, code, buf, len)                                                          \
    do {                                                                                      \
        keywheel_result r_ = (call);                                                          \
        check(r_ == (code), "%s: result %u, want %u (%s)", #call, (unsigned)r_,               \
              (unsigned)(code), last_message());                                              \
        check(untouched((buf), (len)), "%s: output written on failure", #call);               \
    } while (0)

static void write_file(const char *path, const uint8_t *bytes, size_t len, mode_t mode) {
    FILE *f = fopen(path, "wb");
    check(f != NULL && fwrite(bytes, 1, len, f) == len && fclose(f) == 0 &&
              chmod(path, mode) == 0,
          "write %s", path);
}

static void bad_inputs(const char *tmpdir) {
    uint8_t out[KEYWHEEL_STATE_FILE_MAX_LEN + 8];
    memset(out, SENTINEL, sizeof out);
    keywheel_state *st_out = (keywheel_state *)(void *)out; /* sentinel value */
    keywheel_state *state = NULL;
    check(keywheel_state_new(SEED, 32, 1749978000, &state) == KEYWHEEL_RESULT_OK, "state");

    /* NULL pointers everywhere. */
    EXPECT(keywheel_state_new(NULL, 32, 0, &st_out), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_new(SEED, 32, 0, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_new(SEED, SIZE_MAX, 0, &st_out), KEYWHEEL_RESULT_INVALID_ARGUMENT, out,
           8);
    EXPECT(keywheel_state_from_bytes(NULL, 10, &st_out), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_from_bytes(out, 10, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_from_file(NULL, &st_out), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    size_t n = 777;
    EXPECT(keywheel_state_to_bytes(NULL, out, sizeof out, &n), KEYWHEEL_RESULT_NULL_POINTER, out,
           sizeof out);
    EXPECT(keywheel_state_to_bytes(state, NULL, sizeof out, &n), KEYWHEEL_RESULT_NULL_POINTER,
           out, sizeof out);
    EXPECT(keywheel_state_to_bytes(state, out, sizeof out, NULL), KEYWHEEL_RESULT_NULL_POINTER,
           out, sizeof out);
    check(n == 777, "to_bytes: out_len written on failure");
    EXPECT(keywheel_state_advance(NULL, 0), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    uint64_t s0 = 0;
    size_t count = 0;
    EXPECT(keywheel_state_s0(NULL, &s0), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_s0(state, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_node_count(NULL, &count), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_node_count(state, NULL), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_root_id(NULL, out, 8), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_root_id(state, NULL, 8), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_state_tfo_keys(NULL, 86400, 1750000000, out, 16, out + 16, 16),
           KEYWHEEL_RESULT_NULL_POINTER, out, 32);
    EXPECT(keywheel_state_tfo_keys(state, 86400, 1750000000, NULL, 16, out + 16, 16),
           KEYWHEEL_RESULT_NULL_POINTER, out, 32);
    EXPECT(keywheel_state_tfo_keys(state, 86400, 1750000000, out, 16, NULL, 16),
           KEYWHEEL_RESULT_NULL_POINTER, out, 32);
    keywheel_ticket_keys *tk_out = (keywheel_ticket_keys *)(void *)out;
    EXPECT(keywheel_ticket_keys_from_state(NULL, (const uint8_t *)"a", 1, 1, 3600, 1,
                                           1750000000, &tk_out),
           KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_ticket_keys_from_state(state, NULL, 1, 1, 3600, 1, 1750000000, &tk_out),
           KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_ticket_keys_from_state(state, (const uint8_t *)"a", 1, 1, 3600, 1,
                                           1750000000, NULL),
           KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    EXPECT(keywheel_ticket_keys_advance(NULL, 1750000000), KEYWHEEL_RESULT_NULL_POINTER, out, 8);
    keywheel_state_free(NULL);

    /* Short buffers. */
    EXPECT(keywheel_state_to_bytes(state, out, 808, &n), KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out,
           sizeof out);
    check(ends_with(last_message(), "output buffer is 808 bytes; it must be at least 809 bytes"),
          "to_bytes short: %s", last_message());
    EXPECT(keywheel_state_root_id(state, out, 7), KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out, 8);
    EXPECT(keywheel_state_tfo_keys(state, 86400, 1750000000, out, 15, out + 16, 16),
           KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out, 32);
    EXPECT(keywheel_state_tfo_keys(state, 86400, 1750000000, out, 16, out + 16, 15),
           KEYWHEEL_RESULT_BUFFER_TOO_SMALL, out, 32);

    /* Bad values, each with its message. */
    EXPECT(keywheel_state_new(SEED, 31, 0, &st_out), KEYWHEEL_RESULT_SEED_LENGTH, out, 8);
    check(ends_with(last_message(), "seed is 31 bytes; it must be exactly 32 bytes"), "%s",
          last_message());
    EXPECT(keywheel_state_new(SEED, 32, KEYWHEEL_TREE_END, &st_out), KEYWHEEL_RESULT_TREE_TIME,
           out, 8);
    check(ends_with(last_message(),
                    "time 1099511627776 is past the forward-secure tree; it must be in "
                    "0..=1099511627775"),
          "%s", last_message());
    EXPECT(keywheel_state_advance(state, 1749977999), KEYWHEEL_RESULT_BACKWARDS, out, 8);
    check(ends_with(last_message(),
                    "keywheel_state_advance: state starts at 1749978000 (2025-06-15T09:00:00Z); it "
                    "cannot go back to 1749977999 (2025-06-15T08:59:59Z)"),
          "%s", last_message());
    EXPECT(keywheel_state_advance(state, KEYWHEEL_TREE_END), KEYWHEEL_RESULT_TREE_TIME, out, 8);
    check(keywheel_state_s0(state, &s0) == KEYWHEEL_RESULT_OK && s0 == 1749978000,
          "failed advances left s0 at 1749978000: %" PRIu64, s0);
    /* TFO keys whose backup interval starts before the state: punctured. */
    EXPECT(keywheel_state_tfo_keys(state, 86400, 1749978000, out, 16, out + 16, 16),
           KEYWHEEL_RESULT_PUNCTURED, out, 32);
    check(ends_with(last_message(), ": it was punctured"), "%s", last_message());
    EXPECT(keywheel_state_tfo_keys(state, 11, 1750000000, out, 16, out + 16, 16),
           KEYWHEEL_RESULT_INTERVAL, out, 32);
    EXPECT(keywheel_ticket_keys_from_state(state, (const uint8_t *)"a", 1, 9, 3600, 1,
                                           1750000000, &tk_out),
           KEYWHEEL_RESULT_UNKNOWN_STRENGTH, out, 8);
    EXPECT(keywheel_ticket_keys_from_state(state, (const uint8_t *)"\xff", 1, 1, 3600, 1,
                                           1750000000, &tk_out),
           KEYWHEEL_RESULT_LABEL_NOT_UTF8, out, 8);
    EXPECT(keywheel_ticket_keys_from_state(state, (const uint8_t *)"a", 1, 1, 3600, 200,
                                           1750000000, &tk_out),
           KEYWHEEL_RESULT_KEEP, out, 8);
    EXPECT(keywheel_ticket_keys_from_state(state, (const uint8_t *)"a", 1, 1, 3600, 1, 5,
                                           &tk_out),
           KEYWHEEL_RESULT_TIME, out, 8);
    /* The window at 1749978000 (counter 486105) reaches back to 486104: before the state. */
    EXPECT(keywheel_ticket_keys_from_state(state, (const uint8_t *)"a", 1, 1, 3600, 1,
                                           1749978000, &tk_out),
           KEYWHEEL_RESULT_PUNCTURED, out, 8);
    check(ends_with(last_message(),
                    "keywheel_ticket_keys_from_state: state starts at 1749978000 "
                    "(2025-06-15T09:00:00Z); the key for counter 486104 (interval 3600) starts "
                    "at 1749974400 (2025-06-15T08:00:00Z): it was punctured"),
          "%s", last_message());

    /* A handle from a state: advancing backwards changes nothing; main-key handles too. */
    keywheel_ticket_keys *keys = NULL;
    check(keywheel_ticket_keys_from_state(state, (const uint8_t *)"a", 1, 1, 3600, 1, 1750000000,
                                          &keys) == KEYWHEEL_RESULT_OK,
          "ticket keys from state: %s", last_message());
    check(keywheel_ticket_keys_advance(keys, 1750000000) == KEYWHEEL_RESULT_OK,
          "advance to the same time: %s", last_message());
    /* An earlier window is no longer there: refused, nothing changes. */
    EXPECT(keywheel_ticket_keys_advance(keys, 1750000000 - 3600), KEYWHEEL_RESULT_PUNCTURED, out,
           8);
    keywheel_ticket_key cur;
    check(keywheel_ticket_keys_current(keys, 1750000000, &cur) == KEYWHEEL_RESULT_OK,
          "still serves 1750000000: %s", last_message());
    keywheel_ticket_key_wipe(&cur);
    EXPECT(keywheel_ticket_keys_advance(keys, 5), KEYWHEEL_RESULT_TIME, out, 8);
    keywheel_ticket_keys_free(keys);

    /* Files: the loader's checks, each with a message naming the file. */
    char path[4096];
    uint8_t file[KEYWHEEL_STATE_FILE_MAX_LEN + 2];
    size_t file_len = 0;
    check(keywheel_state_to_bytes(state, file, sizeof file, &file_len) == KEYWHEEL_RESULT_OK &&
              file_len == 809,
          "state file of 809 bytes");
    snprintf(path, sizeof path, "%s/good.state", tmpdir);
    write_file(path, file, file_len, 0600);
    keywheel_state *back = NULL;
    check(keywheel_state_from_file(path, &back) == KEYWHEEL_RESULT_OK, "from_file: %s",
          last_message());
    uint8_t again[KEYWHEEL_STATE_FILE_MAX_LEN];
    size_t again_len = 0;
    check(back != NULL &&
              keywheel_state_to_bytes(back, again, sizeof again, &again_len) ==
                  KEYWHEEL_RESULT_OK &&
              again_len == file_len && memcmp(again, file, file_len) == 0,
          "from_file read the file back");
    keywheel_state_free(back);
    check(chmod(path, 0644) == 0, "chmod");
    EXPECT(keywheel_state_from_file(path, &st_out), KEYWHEEL_RESULT_KEY_FILE_INSECURE, out, 8);
    check(strstr(last_message(), "has mode 0644, so group or others can access it") != NULL &&
              strstr(last_message(), path) != NULL &&
              strstr(last_message(), "keywheel_state_from_file_allow_insecure") != NULL,
          "insecure: %s", last_message());
    back = NULL;
    check(keywheel_state_from_file_allow_insecure(path, &back) == KEYWHEEL_RESULT_OK,
          "allow_insecure: %s", last_message());
    keywheel_state_free(back);
    unlink(path);
    EXPECT(keywheel_state_from_file(path, &st_out), KEYWHEEL_RESULT_IO, out, 8);
    check(strstr(last_message(), "cannot open state file ") != NULL, "missing: %s",
          last_message());
    EXPECT(keywheel_state_from_file(tmpdir, &st_out), KEYWHEEL_RESULT_KEY_FILE_NOT_REGULAR, out,
           8);
    check(ends_with(last_message(), "is a directory; it must be a regular file"), "dir: %s",
          last_message());
    snprintf(path, sizeof path, "%s/fifo.state", tmpdir);
    check(mkfifo(path, 0600) == 0, "mkfifo");
    EXPECT(keywheel_state_from_file(path, &st_out), KEYWHEEL_RESULT_KEY_FILE_NOT_REGULAR, out,
           8);
    check(ends_with(last_message(), "is a FIFO; it must be a regular file"), "fifo: %s",
          last_message());
    unlink(path);
    /* Longer than any state file: refused without reading it all. */
    snprintf(path, sizeof path, "%s/long.state", tmpdir);
    memset(file + file_len, 0, sizeof file - file_len);
    write_file(path, file, sizeof file, 0600);
    EXPECT(keywheel_state_from_file(path, &st_out), KEYWHEEL_RESULT_STATE_FILE, out, 8);
    check(ends_with(last_message(),
                    "long.state: trailing bytes: it is longer than any state file (1321 bytes at "
                    "most)"),
          "long: %s", last_message());
    unlink(path);
    /* One byte more than the state: trailing bytes named with both lengths. */
    snprintf(path, sizeof path, "%s/trailing.state", tmpdir);
    write_file(path, file, file_len + 1, 0600);
    EXPECT(keywheel_state_from_file(path, &st_out), KEYWHEEL_RESULT_STATE_FILE, out, 8);
    check(ends_with(last_message(),
                    "trailing.state: trailing bytes: 810 bytes; its header announces 809 bytes"),
          "trailing: %s", last_message());
    unlink(path);
    /* A flipped bit in a node: the checksum. */
    snprintf(path, sizeof path, "%s/flipped.state", tmpdir);
    file[100] ^= 1;
    write_file(path, file, file_len, 0600);
    EXPECT(keywheel_state_from_file(path, &st_out), KEYWHEEL_RESULT_STATE_FILE, out, 8);
    check(ends_with(last_message(), "flipped.state: checksum mismatch: the file is corrupt"),
          "flipped: %s", last_message());
    unlink(path);

    keywheel_state_free(state);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: state_test VECTORS.txt TMPDIR\n");
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
    check(vector_lines >= 100, "read %u vector lines, expected at least 100", vector_lines);
    bad_inputs(argv[2]);
    printf("%u vector lines\n%u passed, %u failed\n", vector_lines, passed, failed);
    return failed == 0 ? 0 : 1;
}
