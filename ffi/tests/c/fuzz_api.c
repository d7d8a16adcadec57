/* Fuzzes every entry point of include/keywheel.h with random and edge arguments: NULL
 * pointers, lengths at and around every limit and past anything a buffer can hold, bad
 * strengths and formats, huge counters and times, random bytes as keys, seeds and state files,
 * and files that are missing, FIFOs, devices, directories, empty or of random bytes and modes.
 *
 * Each call must return a known result code other than KEYWHEEL_RESULT_PANIC, leave its outputs
 * untouched when it fails, and write nothing past the lengths it was given: every output
 * buffer is allocated with guard bytes after it (checked after each call), every input buffer
 * with exactly its length (so ASan or valgrind catch a read past it). Arguments respect the
 * contract the header states for what it cannot check (live handles, readable memory of the
 * given length), except lengths above PTRDIFF_MAX, which the library must refuse unread.
 *
 *   fuzz_api SEED EXECS    EXECS random call sequences from a xorshift generator
 *   fuzz_api --input FILE  one sequence, its choices read from FILE (a fuzzer's input)
 *
 * Exit status 0 when every check held; a failed check prints the call and execution and aborts.
 * tests/c/test_c.py runs it under ASan+UBSan and valgrind; docs/operations.md has the long run.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keywheel.h"

#define GUARD 32
#define GUARD_BYTE 0xA5
#define SENTINEL 0x5C
#define POOL 4

/* ---- choices: from a file (the fuzzer's bytes, then zeros) or a xorshift generator ---- */
static const uint8_t *in_bytes;
static size_t in_len, in_pos;
static int from_file;
static uint64_t rng = 0x6b657977686565ULL;
static unsigned long long exec_no;
static const char *current_call = "(none)";
static unsigned long long calls, calls_ok;

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_api: execution %llu, %s: ", exec_no, current_call);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort(); /* a crash, for a fuzzer too */
}

static uint64_t raw64(void) {
    if (from_file) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | (in_pos < in_len ? in_bytes[in_pos++] : 0);
        return v;
    }
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static uint8_t byte(void) {
    if (from_file) return in_pos < in_len ? in_bytes[in_pos++] : 0;
    return (uint8_t)raw64();
}

static size_t below(size_t n) { return n == 0 ? 0 : (size_t)(byte() | (size_t)byte() << 8) % n; }

static int chance(unsigned in) { return below(in) == 0; }

/* Times, intervals, counters: the ends of every range, the points around them, random. */
static uint64_t number(void) {
    static const uint64_t edges[] = {
        0, 1, 2, 9, 10, 11, 12, 3599, 3600, 86400, 604799, 604800, 604801, 604802, 999999,
        1000000, 1000001, 1700000000, 99999999999ULL, 100000000000ULL, 100000000001ULL,
        0xFFFFFFFFULL, 0x100000000ULL, (1ULL << 40) - 1, 1ULL << 40, (1ULL << 53) + 1,
        1ULL << 63, UINT64_MAX - 1, UINT64_MAX,
    };
    switch (below(4)) {
    case 0: return raw64();
    case 1: return below(5) + 1000000 + raw64() % 1000;
    default: return edges[below(sizeof edges / sizeof edges[0])];
    }
}

/* Buffer lengths: the sizes the API uses and those next to them. */
static size_t length(void) {
    static const size_t edges[] = {0,  1,  7,  8,  9,  15, 16, 17, 31,  32,  33,   41,   63,
                                   64, 65, 70, 71, 72, 73, 80, 96, 128, 512, 1321, 1322, 4096};
    if (chance(4)) return below(300);
    return edges[below(sizeof edges / sizeof edges[0])];
}

/* A length past anything a buffer can hold: the library must refuse it without reading. */
static int huge_length(size_t *len) {
    if (!chance(16)) return 0;
    static const size_t huge[] = {(size_t)PTRDIFF_MAX + 1, SIZE_MAX - 1, SIZE_MAX};
    *len = huge[below(3)];
    return 1;
}

static uint32_t enum_value(uint32_t count) {
    switch (below(4)) {
    case 0: return (uint32_t)raw64();
    case 1: return UINT32_MAX - (uint32_t)below(2);
    default: return (uint32_t)below(count + 3);
    }
}

/* ---- buffers ---- */
typedef struct {
    uint8_t *p; /* NULL for a NULL argument */
    size_t len;  /* what the call is told */
    size_t real; /* what was allocated before the guard */
} buf;

static buf inputs[8], outputs[8];
static int n_inputs, n_outputs;

/* An input of `len` random bytes (exactly that size), or NULL, or a huge length. */
static buf input_of(size_t len, int may_be_null) {
    buf b = {0};
    b.len = len;
    if (may_be_null && chance(10)) return b;
    size_t huge;
    if (huge_length(&huge)) len = 1, b.len = huge;
    b.real = len;
    b.p = malloc(len ? len : 1);
    if (!b.p) fail("out of memory");
    for (size_t i = 0; i < len; i++) b.p[i] = byte();
    if (n_inputs < 8) inputs[n_inputs++] = b;
    return b;
}

/* An output buffer of `len` bytes followed by GUARD guard bytes, pre-filled with SENTINEL, or
 * NULL. */
static buf output_of(size_t len, int may_be_null) {
    buf b = {0};
    b.len = len;
    if (may_be_null && chance(10)) return b;
    b.real = len; /* (a length past the buffer would break the contract: outputs are exact) */
    b.p = malloc(len + GUARD);
    if (!b.p) fail("out of memory");
    memset(b.p, SENTINEL, len);
    memset(b.p + len, GUARD_BYTE, GUARD);
    if (n_outputs < 8) outputs[n_outputs++] = b;
    return b;
}

static int untouched(const buf *b) {
    for (size_t i = 0; i < b->real; i++)
        if (b->p[i] != SENTINEL) return 0;
    return 1;
}

/* After a call: guards intact; on failure every output untouched; buffers freed. */
static void finish(keywheel_result r) {
    for (int i = 0; i < n_outputs; i++) {
        for (size_t g = 0; g < GUARD; g++)
            if (outputs[i].p[outputs[i].real + g] != GUARD_BYTE)
                fail("wrote past the %zu bytes of output %d (result %u)", outputs[i].real, i,
                     (unsigned)r);
        if (r != KEYWHEEL_RESULT_OK && !untouched(&outputs[i]))
            fail("output %d written although the call failed with %u", i, (unsigned)r);
        free(outputs[i].p);
    }
    for (int i = 0; i < n_inputs; i++) free(inputs[i].p);
    n_inputs = n_outputs = 0;
}

/* Every result is a known code, never a caught panic; a failure has a detailed message. */
static void check_result(keywheel_result r) {
    calls++;
    calls_ok += r == KEYWHEEL_RESULT_OK;
    if (r == KEYWHEEL_RESULT_PANIC) fail("the library panicked");
    if (strcmp(keywheel_result_message(r), "unknown result code") == 0)
        fail("unknown result code %u", (unsigned)r);
    if (r != KEYWHEEL_RESULT_OK) {
        char message[KEYWHEEL_MESSAGE_MAX_LEN];
        size_t n = 0;
        if (keywheel_last_error_message(message, sizeof message, &n) != KEYWHEEL_RESULT_OK ||
            n == 0 || strlen(message) != n)
            fail("no detailed message after result %u", (unsigned)r);
    }
    finish(r);
}

/* ---- handles: a small pool of live ones; arguments are one of them or NULL ---- */
static keywheel_main_key *main_keys[POOL];
static keywheel_state *states[POOL];
static keywheel_ticket_keys *ticket_keys[POOL];

#define PICK(pool) (chance(8) ? NULL : (pool)[below(POOL)])

#define KEEP(pool, fresh, free_fn)                                                              \
    do {                                                                                        \
        size_t slot_ = below(POOL);                                                             \
        free_fn((pool)[slot_]);                                                                 \
        (pool)[slot_] = (fresh);                                                                \
    } while (0)

/* A handle out-parameter: NULL, or a pointer pre-set to a sentinel that must survive failure. */
#define UNTOUCHED_HANDLE(r, var)                                                                \
    do {                                                                                        \
        if ((r) != KEYWHEEL_RESULT_OK && (void *)(var) != (void *)&exec_no)                     \
            fail("*out written although the call failed with %u", (unsigned)(r));              \
    } while (0)

#define HANDLE_OUT(type, var, ptr)                                                              \
    type *var = (type *)(void *)&exec_no;                                                       \
    type **ptr = chance(10) ? NULL : &var

static char tmpdir[64] = "/tmp/keywheel-fuzz-api-XXXXXX";
static char paths[6][128];

/* A path: missing, a FIFO, a device, a directory, an empty file, random bytes in a random mode. */
static const char *path(void) {
    static const char *fixed[] = {"/nonexistent/keywheel.key", "/dev/null", "/dev/zero", "/", ""};
    size_t which = below(5 + 6);
    if (which < 5) return chance(8) ? NULL : fixed[which];
    const char *p = paths[which - 5];
    if (which - 5 >= 2) { /* rewrite a regular file: random size, bytes and mode */
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) fail("open %s: %s", p, strerror(errno));
        size_t n = chance(3) ? (size_t)(below(3) ? 32 + below(2) : 41 + 32 * below(40)) : below(80);
        uint8_t data[41 + 32 * 40];
        for (size_t i = 0; i < n; i++) data[i] = byte();
        if (n > 0 && chance(4)) memset(data, 0, n < 32 ? n : 32); /* an all-zero key */
        if (write(fd, data, n) != (ssize_t)n) fail("write %s", p);
        close(fd);
        chmod(p, chance(4) ? 0644 : 0600);
    }
    return p;
}

static void setup_paths(void) {
#ifdef FUZZ_API_NO_MAIN
    /* Under AFL each child of the fork server takes over the one directory named after the
     * fork server's pid: a child AFL kills (no exit handler runs) leaves no directory of its
     * own behind, only that one per run. */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/keywheel-fuzz-api-%ld", (long)getppid());
    if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST) fail("mkdir %s: %s", tmpdir, strerror(errno));
    struct stat st;
    if (lstat(tmpdir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077) != 0)
        fail("%s is not a private directory of this user", tmpdir);
#else
    if (!mkdtemp(tmpdir)) fail("mkdtemp: %s", strerror(errno));
#endif
    for (int i = 0; i < 6; i++) snprintf(paths[i], sizeof paths[i], "%s/f%d", tmpdir, i);
    if (mkfifo(paths[0], 0600) != 0 && errno != EEXIST) fail("mkfifo: %s", strerror(errno));
    if (mkdir(paths[1], 0700) != 0 && errno != EEXIST) fail("mkdir: %s", strerror(errno));
}

static void cleanup_paths(void) {
    unlink(paths[0]);
    rmdir(paths[1]);
    for (int i = 2; i < 6; i++) unlink(paths[i]);
    rmdir(tmpdir);
}

/* ---- one call of a randomly chosen entry point ---- */
static void one_call(void) {
    keywheel_result r;
    switch (below(44)) {
    case 0: {
        current_call = "keywheel_main_key_new";
        /* Random material; sometimes 32+ zero bytes (refused: SPEC.md 1). */
        buf m = input_of(length(), 1);
        if (m.p && chance(6)) memset(m.p, 0, m.real);
        HANDLE_OUT(keywheel_main_key, k, out);
        r = keywheel_main_key_new(m.p, m.len, out);
        UNTOUCHED_HANDLE(r, k);
        check_result(r);
        if (r == KEYWHEEL_RESULT_OK) KEEP(main_keys, k, keywheel_main_key_free);
        break;
    }
    case 1:
    case 2: {
        int insecure = below(2);
        current_call = insecure ? "keywheel_main_key_from_file_allow_insecure"
                                : "keywheel_main_key_from_file";
        const char *p = path();
        HANDLE_OUT(keywheel_main_key, k, out);
        r = insecure ? keywheel_main_key_from_file_allow_insecure(p, out)
                     : keywheel_main_key_from_file(p, out);
        UNTOUCHED_HANDLE(r, k);
        check_result(r);
        if (r == KEYWHEEL_RESULT_OK) KEEP(main_keys, k, keywheel_main_key_free);
        break;
    }
    case 3: {
        current_call = "keywheel_main_key_fingerprint";
        buf o = output_of(KEYWHEEL_FINGERPRINT_LEN, 1);
        check_result(keywheel_main_key_fingerprint(PICK(main_keys), o.p));
        break;
    }
    case 4: {
        current_call = "keywheel_main_key_free";
        size_t slot = below(POOL);
        keywheel_main_key_free(main_keys[slot]);
        main_keys[slot] = NULL;
        break;
    }
    case 5: {
        current_call = "keywheel_result_message";
        const char *m = keywheel_result_message(chance(2) ? (uint32_t)below(40) : enum_value(40));
        if (!m || strlen(m) == 0) fail("empty message");
        break;
    }
    case 6: {
        current_call = "keywheel_last_error_message";
        buf o = output_of(length(), 1);
        size_t n = 0;
        size_t *np = chance(10) ? NULL : &n;
        r = keywheel_last_error_message((char *)o.p, o.len, np);
        if (r == KEYWHEEL_RESULT_OK && (n >= o.real || o.p[n] != 0)) fail("message not in buffer");
        if (r != KEYWHEEL_RESULT_PANIC && strcmp(keywheel_result_message(r), "unknown result code") == 0)
            fail("unknown result code %u", (unsigned)r);
        if (r == KEYWHEEL_RESULT_PANIC) fail("the library panicked");
        finish(r == KEYWHEEL_RESULT_OK ? r : KEYWHEEL_RESULT_OK); /* a failure may truncate */
        break;
    }
    case 7: {
        current_call = "keywheel_version";
        if (strlen(keywheel_version()) == 0) fail("empty version");
        break;
    }
    case 8: {
        current_call = "keywheel_state_new";
        buf s = input_of(chance(2) ? KEYWHEEL_SEED_LEN : length(), 1);
        HANDLE_OUT(keywheel_state, st, out);
        r = keywheel_state_new(s.p, s.len, number(), out);
        UNTOUCHED_HANDLE(r, st);
        check_result(r);
        if (r == KEYWHEEL_RESULT_OK) KEEP(states, st, keywheel_state_free);
        break;
    }
    case 9: {
        current_call = "keywheel_state_from_bytes";
        /* Random bytes, or a valid state file from the pool with a few bytes changed. */
        keywheel_state *from = states[below(POOL)];
        size_t len = length();
        uint8_t file[KEYWHEEL_STATE_FILE_MAX_LEN];
        size_t file_len = 0;
        if (from && chance(2) &&
            keywheel_state_to_bytes(from, file, sizeof file, &file_len) == KEYWHEEL_RESULT_OK)
            len = file_len;
        buf b = input_of(len, 1);
        if (b.p && file_len == len && len > 0 && b.real == len) {
            memcpy(b.p, file, len);
            for (size_t i = below(3); i > 0; i--) b.p[below(len)] ^= byte();
        }
        HANDLE_OUT(keywheel_state, st, out);
        r = keywheel_state_from_bytes(b.p, b.len, out);
        UNTOUCHED_HANDLE(r, st);
        check_result(r);
        if (r == KEYWHEEL_RESULT_OK) KEEP(states, st, keywheel_state_free);
        break;
    }
    case 10:
    case 11: {
        int insecure = below(2);
        current_call =
            insecure ? "keywheel_state_from_file_allow_insecure" : "keywheel_state_from_file";
        const char *p = path();
        HANDLE_OUT(keywheel_state, st, out);
        r = insecure ? keywheel_state_from_file_allow_insecure(p, out)
                     : keywheel_state_from_file(p, out);
        UNTOUCHED_HANDLE(r, st);
        check_result(r);
        if (r == KEYWHEEL_RESULT_OK) KEEP(states, st, keywheel_state_free);
        break;
    }
    case 12: {
        current_call = "keywheel_state_to_bytes";
        buf o = output_of(chance(2) ? KEYWHEEL_STATE_FILE_MAX_LEN : length(), 1);
        size_t n = SIZE_MAX;
        size_t *np = chance(10) ? NULL : &n;
        r = keywheel_state_to_bytes(PICK(states), o.p, o.len, np);
        if (r == KEYWHEEL_RESULT_OK && n > o.real) fail("wrote %zu of %zu bytes", n, o.real);
        check_result(r);
        break;
    }
    case 13: {
        current_call = "keywheel_state_advance";
        keywheel_state *st = PICK(states);
        check_result(keywheel_state_advance(st, number()));
        break;
    }
    case 14: {
        current_call = "keywheel_state_s0";
        buf o = output_of(sizeof(uint64_t), 1);
        check_result(keywheel_state_s0(PICK(states), (uint64_t *)(void *)o.p));
        break;
    }
    case 15: {
        current_call = "keywheel_state_node_count";
        buf o = output_of(sizeof(size_t), 1);
        check_result(keywheel_state_node_count(PICK(states), (size_t *)(void *)o.p));
        break;
    }
    case 16: {
        current_call = "keywheel_state_root_id";
        buf o = output_of(chance(2) ? KEYWHEEL_ROOT_ID_LEN : length(), 1);
        check_result(keywheel_state_root_id(PICK(states), o.p, o.len));
        break;
    }
    case 17: {
        current_call = "keywheel_state_tfo_keys";
        buf p = output_of(chance(2) ? KEYWHEEL_TFO_KEY_LEN : length(), 1);
        buf b = output_of(chance(2) ? KEYWHEEL_TFO_KEY_LEN : length(), 1);
        check_result(keywheel_state_tfo_keys(PICK(states), number(), number(), p.p, p.len, b.p,
                                             b.len));
        break;
    }
    case 18: {
        current_call = "keywheel_state_free";
        size_t slot = below(POOL);
        /* Ticket keys made from a state do not borrow it (the header says so). */
        keywheel_state_free(states[slot]);
        states[slot] = NULL;
        break;
    }
    case 19: {
        current_call = "keywheel_derive_key";
        buf c = input_of(chance(2) ? KEYWHEEL_CONTEXT_LEN : length(), 1);
        buf o = output_of(length(), 1);
        check_result(keywheel_derive_key(PICK(main_keys), c.p, c.len, number(), o.p, o.len));
        break;
    }
    case 20: {
        current_call = "keywheel_schedule_at";
        buf o = output_of(sizeof(keywheel_slot), 1);
        check_result(keywheel_schedule_at(number(), number(), (keywheel_slot *)(void *)o.p));
        break;
    }
    case 21: {
        current_call = "keywheel_tfo_keys";
        buf p = output_of(chance(2) ? KEYWHEEL_TFO_KEY_LEN : length(), 1);
        buf b = output_of(chance(2) ? KEYWHEEL_TFO_KEY_LEN : length(), 1);
        check_result(
            keywheel_tfo_keys(PICK(main_keys), number(), number(), p.p, p.len, b.p, b.len));
        break;
    }
    case 22: {
        current_call = "keywheel_tfo_procfs_text";
        buf o = output_of(chance(2) ? KEYWHEEL_TFO_PROCFS_TEXT_LEN + 1 : length(), 1);
        size_t n = SIZE_MAX;
        size_t *np = chance(10) ? NULL : &n;
        r = keywheel_tfo_procfs_text(PICK(main_keys), number(), number(), (char *)o.p, o.len, np);
        if (r == KEYWHEEL_RESULT_OK && (n >= o.real || o.p[n] != 0)) fail("text not in buffer");
        check_result(r);
        break;
    }
    case 23: {
        current_call = "keywheel_tfo_key_fingerprint";
        buf k = input_of(chance(2) ? KEYWHEEL_TFO_KEY_LEN : length(), 1);
        buf o = output_of(KEYWHEEL_FINGERPRINT_LEN, 1);
        check_result(keywheel_tfo_key_fingerprint(k.p, k.len, o.p));
        break;
    }
    case 24: {
        current_call = "keywheel_ticket_keys_new";
        buf l = input_of(chance(2) ? 1 + below(64) : length(), 1);
        HANDLE_OUT(keywheel_ticket_keys, t, out);
        r = keywheel_ticket_keys_new(PICK(main_keys), l.p, l.len, enum_value(2),
                                     chance(2) ? 3600 : number(), chance(2) ? 1 : number(), out);
        UNTOUCHED_HANDLE(r, t);
        check_result(r);
        if (r == KEYWHEEL_RESULT_OK) KEEP(ticket_keys, t, keywheel_ticket_keys_free);
        break;
    }
    case 25: {
        current_call = "keywheel_ticket_keys_from_state";
        buf l = input_of(chance(2) ? 1 + below(64) : length(), 1);
        HANDLE_OUT(keywheel_ticket_keys, t, out);
        r = keywheel_ticket_keys_from_state(PICK(states), l.p, l.len, enum_value(2),
                                            chance(2) ? 3600 : number(), chance(2) ? 1 : number(),
                                            number(), out);
        UNTOUCHED_HANDLE(r, t);
        check_result(r);
        if (r == KEYWHEEL_RESULT_OK) KEEP(ticket_keys, t, keywheel_ticket_keys_free);
        break;
    }
    case 26: {
        current_call = "keywheel_ticket_keys_advance";
        check_result(keywheel_ticket_keys_advance(PICK(ticket_keys), number()));
        break;
    }
    case 27: {
        current_call = "keywheel_ticket_keys_free";
        size_t slot = below(POOL);
        keywheel_ticket_keys_free(ticket_keys[slot]);
        ticket_keys[slot] = NULL;
        break;
    }
    case 28: {
        current_call = "keywheel_ticket_keys_slot";
        buf o = output_of(sizeof(keywheel_ticket_slot), 1);
        check_result(keywheel_ticket_keys_slot(PICK(ticket_keys), number(),
                                               (keywheel_ticket_slot *)(void *)o.p));
        break;
    }
    case 29:
    case 30: {
        int current = below(2);
        current_call = current ? "keywheel_ticket_keys_current" : "keywheel_ticket_keys_by_counter";
        buf o = output_of(sizeof(keywheel_ticket_key), 1);
        keywheel_ticket_key *k = (keywheel_ticket_key *)(void *)o.p;
        r = current ? keywheel_ticket_keys_current(PICK(ticket_keys), number(), k)
                    : keywheel_ticket_keys_by_counter(PICK(ticket_keys), number(), k);
        if (r == KEYWHEEL_RESULT_OK) keywheel_ticket_key_wipe(k), memset(k, SENTINEL, sizeof *k);
        check_result(r);
        break;
    }
    case 31: {
        current_call = "keywheel_ticket_keys_lookup";
        buf n = input_of(chance(2) ? KEYWHEEL_TICKET_NAME_LEN : length(), 1);
        buf f = output_of(sizeof(keywheel_lookup), 1);
        buf o = output_of(sizeof(keywheel_ticket_key), 1);
        r = keywheel_ticket_keys_lookup(PICK(ticket_keys), number(), n.p, n.len,
                                        (keywheel_lookup *)(void *)f.p,
                                        (keywheel_ticket_key *)(void *)o.p);
        if (r == KEYWHEEL_RESULT_OK) memset(f.p, SENTINEL, f.real), memset(o.p, SENTINEL, o.real);
        check_result(r);
        break;
    }
    case 32: {
        current_call = "keywheel_ticket_keys_rendered_len";
        buf o = output_of(sizeof(size_t), 1);
        check_result(keywheel_ticket_keys_rendered_len(PICK(ticket_keys), enum_value(7),
                                                       (size_t *)(void *)o.p));
        break;
    }
    case 33: {
        current_call = "keywheel_format_record_len";
        buf o = output_of(sizeof(size_t), 1);
        check_result(keywheel_format_record_len(enum_value(7), (size_t *)(void *)o.p));
        break;
    }
    case 34:
    case 35: {
        current_call = "keywheel_ticket_keys_render";
        keywheel_ticket_keys *t = PICK(ticket_keys);
        uint32_t format = enum_value(7);
        size_t need = 0;
        if (t && chance(2)) keywheel_ticket_keys_rendered_len(t, format, &need);
        buf o = output_of(need && chance(2) ? need + below(3) - (need > 0) : length() * 4, 1);
        size_t n = SIZE_MAX;
        size_t *np = chance(10) ? NULL : &n;
        r = keywheel_ticket_keys_render(t, format, number(), o.p, o.len, np);
        if (r == KEYWHEEL_RESULT_OK && n > o.real) fail("wrote %zu of %zu bytes", n, o.real);
        check_result(r);
        break;
    }
    case 36: {
        current_call = "keywheel_ticket_keys_rollover_len";
        buf o = output_of(sizeof(size_t), 1);
        size_t count = chance(8) ? SIZE_MAX - below(2) : below(4);
        check_result(keywheel_ticket_keys_rollover_len(PICK(ticket_keys), enum_value(7), count,
                                                       (size_t *)(void *)o.p));
        break;
    }
    case 37: {
        current_call = "keywheel_ticket_keys_render_rollover";
        const keywheel_ticket_keys *others[3];
        size_t count = below(4);
        for (size_t i = 0; i < count; i++) others[i] = PICK(ticket_keys);
        const keywheel_ticket_keys *const *list = count == 0 && chance(2) ? NULL : others;
        if (chance(16)) list = NULL; /* NULL with a count: refused */
        buf o = output_of(length() * 8, 1);
        size_t n = SIZE_MAX;
        size_t *np = chance(10) ? NULL : &n;
        r = keywheel_ticket_keys_render_rollover(PICK(ticket_keys), enum_value(7), number(), list,
                                                 count, o.p, o.len, np);
        if (r == KEYWHEEL_RESULT_OK && n > o.real) fail("wrote %zu of %zu bytes", n, o.real);
        check_result(r);
        break;
    }
    case 38: {
        current_call = "keywheel_format_count";
        if (keywheel_format_count() == 0) fail("no formats");
        break;
    }
    case 39: {
        current_call = "keywheel_format_name";
        const char *name = (const char *)(void *)&exec_no;
        const char **np = chance(10) ? NULL : &name;
        r = keywheel_format_name(enum_value(7), np);
        if (r == KEYWHEEL_RESULT_OK && strlen(name) == 0) fail("empty name");
        check_result(r);
        break;
    }
    case 40: {
        current_call = "keywheel_format_from_name";
        static const char *names[] = {"nginx", "nginx48", "haproxy", "haproxy48", "apache",
                                      "ats", "openssl", "NGINX", "nginx\n", ""};
        const char *name = names[below(10)];
        buf b = input_of(chance(2) ? strlen(name) : length(), 1);
        if (b.p && b.real == b.len && b.len == strlen(name)) memcpy(b.p, name, b.len);
        buf o = output_of(sizeof(uint32_t), 1);
        check_result(keywheel_format_from_name(b.p, b.len, (uint32_t *)(void *)o.p));
        break;
    }
    case 42: {
        current_call = "keywheel_ticket_keys_go_seed";
        buf o = output_of(chance(2) ? KEYWHEEL_GO_SEED_LEN : length(), 1);
        check_result(keywheel_ticket_keys_go_seed(PICK(ticket_keys), number(), o.p, o.len));
        break;
    }
    default: {
        current_call = "keywheel_ticket_key_wipe";
        if (chance(2)) {
            keywheel_ticket_key_wipe(NULL);
        } else {
            keywheel_ticket_key k;
            memset(&k, 0x77, sizeof k);
            keywheel_ticket_key_wipe(&k);
            for (size_t i = 0; i < sizeof k.aes_key; i++)
                if (k.aes_key[i] || k.hmac_key[i]) fail("key not wiped");
        }
        break;
    }
    }
}

static void free_pools(void) {
    for (int i = 0; i < POOL; i++) {
        keywheel_main_key_free(main_keys[i]);
        keywheel_state_free(states[i]);
        keywheel_ticket_keys_free(ticket_keys[i]);
        main_keys[i] = NULL;
        states[i] = NULL;
        ticket_keys[i] = NULL;
    }
}

/* One execution: up to 64 calls on fresh pools. */
static void execution(void) {
    size_t calls = 1 + below(64);
    for (size_t i = 0; i < calls && !(from_file && in_pos >= in_len); i++) one_call();
    free_pools();
}

/* One execution whose choices are `data` (then zeros): the entry of fuzz/src/bin/c_api.rs (AFL),
 * compiled with -DFUZZ_API_NO_MAIN. Temporary files live until the process exits (see
 * setup_paths). */
void fuzz_api_input(const uint8_t *data, size_t len) {
    static int ready;
    if (!ready) {
        setup_paths();
        atexit(cleanup_paths);
        ready = 1;
    }
    in_bytes = data;
    in_len = len;
    in_pos = 0;
    from_file = 1;
    exec_no++;
    execution();
}

#ifndef FUZZ_API_NO_MAIN
int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--input") == 0) {
        FILE *f = fopen(argv[2], "rb");
        if (!f) fail("cannot open %s: %s", argv[2], strerror(errno));
        static uint8_t data[1 << 16];
        size_t n = fread(data, 1, sizeof data, f);
        fclose(f);
        fuzz_api_input(data, n);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_api SEED EXECS | fuzz_api --input FILE\n");
        return 2;
    }
    setup_paths();
    rng = strtoull(argv[1], NULL, 10) * 2 + 1;
    unsigned long long execs = strtoull(argv[2], NULL, 10);
    for (exec_no = 0; exec_no < execs; exec_no++) execution();
    printf("fuzz_api: %llu executions, %llu checked calls (%llu succeeded), 0 failures "
           "(seed %s)\n",
           execs, calls, calls_ok, argv[1]);
    cleanup_paths();
    return 0;
}
#endif
