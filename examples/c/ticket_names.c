/*
 * Prints which ticket key a keywheel server uses now and which ones it accepts -- by their key
 * names, which are public (sent in clear in every ticket) -- and when the next rotation is.
 * Handy to check that every node of a cluster agrees. Valid C11 and C++.
 *
 *   cc ticket_names.c $(pkg-config --cflags --libs keywheel) -o ticket_names
 *   ./ticket_names MAIN_KEY_FILE LABEL [INTERVAL [KEEP [UNIX_TIME]]]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keywheel.h"

static int fail(keywheel_result r) {
    char message[KEYWHEEL_MESSAGE_MAX_LEN];
    size_t len = 0;
    if (keywheel_last_error_message(message, sizeof message, &len) != KEYWHEEL_RESULT_OK) {
        message[0] = '\0';
    }
    fprintf(stderr, "error: %s: %s\n", keywheel_result_message(r), message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: ticket_names MAIN_KEY_FILE LABEL [INTERVAL [KEEP [UNIX_TIME]]]\n");
        return 2;
    }
    uint64_t interval = argc > 3 ? strtoull(argv[3], NULL, 10) : 3600;
    uint64_t keep = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    uint64_t now = argc > 5 ? strtoull(argv[5], NULL, 10) : (uint64_t)time(NULL);

    keywheel_main_key *main_key = NULL;
    keywheel_result r = keywheel_main_key_from_file(argv[1], &main_key);
    if (r != KEYWHEEL_RESULT_OK) return fail(r);
    keywheel_ticket_keys *keys = NULL;
    r = keywheel_ticket_keys_new(main_key, (const uint8_t *)argv[2], strlen(argv[2]),
                                 KEYWHEEL_STRENGTH_AES256, interval, keep, &keys);
    keywheel_main_key_free(main_key); /* the ticket keys do not need it any more */
    if (r != KEYWHEEL_RESULT_OK) return fail(r);

    keywheel_ticket_slot slot;
    r = keywheel_ticket_keys_slot(keys, now, &slot);
    if (r != KEYWHEEL_RESULT_OK) {
        keywheel_ticket_keys_free(keys);
        return fail(r);
    }
    printf("keywheel %s, time %" PRIu64 ", next rotation %" PRIu64 "\n", keywheel_version(), now,
           slot.next_rotation);
    /* Oldest first: previous keep .. previous 1, current, next. */
    for (uint64_t counter = slot.current - slot.keep; counter <= slot.current + 1; counter++) {
        keywheel_ticket_key key;
        r = keywheel_ticket_keys_by_counter(keys, counter, &key);
        if (r != KEYWHEEL_RESULT_OK) break;
        printf("%-8s counter %" PRIu64 " name ",
               counter == slot.current ? "current" : counter > slot.current ? "next" : "previous",
               counter);
        for (int i = 0; i < KEYWHEEL_TICKET_NAME_LEN; i++) printf("%02x", key.name[i]);
        printf("\n");
        keywheel_ticket_key_wipe(&key);
    }
    keywheel_ticket_keys_free(keys);
    return r == KEYWHEEL_RESULT_OK ? 0 : fail(r);
}
