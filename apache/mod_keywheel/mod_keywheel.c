/*
 * mod_keywheel: Apache httpd 2.4 session-ticket keys from keywheel, rotating with no restart.
 *
 * Every SSL virtual host with a KeywheelMainKey or a KeywheelState gets keywheel's OpenSSL
 * ticket-key callback (ffi/openssl/keywheel_openssl.c) through mod_ssl's optional hook
 * `init_server`, which mod_ssl runs for each server SSL_CTX at the end of its post_config. The
 * callback reads the clock on every call, so the server
 *   - encrypts new tickets with the current key (interval floor(now / KeywheelInterval)),
 *   - accepts tickets of the next key and of the KeywheelKeep previous ones, and renews those,
 *   - refuses older tickets (full handshake),
 *   - and moves to the next key at the interval boundary by itself: no restart, no key file.
 * Tickets are AES-256-CBC and HMAC-SHA256 with keywheel's keys (mod_ssl's own file key is not
 * used, so its OpenSSL 3 HMAC-key bug does not apply).
 *
 * Directives (server config and <VirtualHost>; a virtual host inherits what it does not set):
 *   KeywheelMainKey  path   the cluster's main key (at least 32 bytes, mode 0600 or stricter)
 *   KeywheelState    path   or: a forward-secure state file (docs/forward-secrecy.md), mode 0600
 *   KeywheelStateCredential name   or: the state as systemd credential
 *                           ($CREDENTIALS_DIRECTORY/name); exclusive with KeywheelMainKey
 *   KeywheelLabel    text   the ticket label (the same on every server of the cluster)
 *   KeywheelInterval secs   rotation interval (default 3600)
 *   KeywheelKeep     n      previous keys still accepted (default 1)
 * Values are checked by libkeywheel (keywheel_ticket_keys_new, keywheel_main_key_from_file);
 * a bad one stops Apache at start (and fails `apachectl configtest`) with the library's
 * message, naming the directive.
 *
 * The main key is read by the parent (check_config: as root, before the children drop
 * privileges) once at start, again at each graceful restart, and for `apachectl configtest`;
 * the ticket keys are derived from it and it is wiped and freed at once. Children only hold the
 * derived per-label keys.
 *
 * Forward-secure mode (KeywheelState): the parent reads the state file the same way (once per
 * configuration load, libkeywheel's strict loader, mode 0600), makes each label's ticket keys
 * from it (keywheel_ticket_keys_from_state: a private copy of the state moved forward to the
 * start of the oldest key accepted now) and wipes the loaded state. From then on the copies are
 * only advanced in memory, never written back to the file (the file is the operator's or the
 * keywheel daemon's: the module never writes it; see README): the parent advances its copies
 * from the MPM's monitor hook (about every 10 s), each child from a thread of its own that
 * checks the clock every second, so that at each interval boundary every process wipes the tree
 * nodes of the key that left the window. Handshakes read the keys under a read lock; an advance
 * takes the write lock (libkeywheel requires exclusive access to advance a handle).
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE (apxs defines it too) */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_config.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apu.h"
#include "apr_optional_hooks.h"
#include "mpm_common.h"

#include <openssl/ssl.h>

#include "keywheel.h"
#include "keywheel_openssl.h"

extern module AP_MODULE_DECLARE_DATA keywheel_module;

/*
 * mod_ssl's optional hook, declared here (Debian's apache2-dev does not ship
 * mod_ssl_openssl.h). Optional hooks are looked up by name ("init_server"); mod_ssl runs every
 * registered function with each server's SSL_CTX (is_proxy 0) and each proxy's (is_proxy 1),
 * and fails its post_config when one returns something other than OK or DECLINED.
 */
typedef int ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx);

#define DEFAULT_INTERVAL 3600
#define DEFAULT_KEEP 1

/* One directive's value and where it was set, for messages ("file:line" or "default"). */
typedef struct {
    int set;
    const char *where;
} kw_origin;

typedef struct {
    /*
     * Where the keys come from: KeywheelMainKey (a main key file) or KeywheelState /
     * KeywheelStateCredential (a forward-secure state file), never both. check_config() sets
     * `source` and `fs` from them; load_ticket_keys() is the one place that turns a source
     * into keys.
     */
    const char *main_key; /* absolute path, or NULL */
    kw_origin main_key_at;
    const char *state; /* absolute path (a credential resolved already), or NULL */
    kw_origin state_at;
    const char *state_directive; /* "KeywheelState" or "KeywheelStateCredential NAME" */
    const char *source;          /* main_key or state, or NULL: keywheel is off for this server */
    int fs;                      /* source is a forward-secure state */
    const char *label;
    kw_origin label_at;
    apr_uint64_t interval;
    kw_origin interval_at;
    apr_uint64_t keep;
    kw_origin keep_at;
    /* Built in check_config (parent); shared by servers with the same source and parameters. */
    keywheel_ticket_keys *keys;
    /* Forward-secure mode: the interval counter `keys` was last advanced to, in this process. */
    uint64_t advanced_to;
    int advance_failed;
} kw_server_conf;

static kw_server_conf *conf_of(server_rec *s) {
    return (kw_server_conf *)ap_get_module_config(s->module_config, &keywheel_module);
}

static void *create_server_conf(apr_pool_t *p, server_rec *s) {
    (void)s;
    kw_server_conf *c = apr_pcalloc(p, sizeof *c);
    c->interval = DEFAULT_INTERVAL;
    c->keep = DEFAULT_KEEP;
    c->main_key_at.where = c->state_at.where = c->label_at.where = "not set";
    c->state_directive = "KeywheelState";
    c->interval_at.where = c->keep_at.where = "default";
    return c;
}

/* A virtual host inherits every directive it does not set itself. */
static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv) {
    const kw_server_conf *base = basev, *add = addv;
    kw_server_conf *c = apr_pcalloc(p, sizeof *c);
#define INHERIT(field)                                                                              \
    do {                                                                                            \
        const kw_server_conf *from = add->field##_at.set ? add : base;                              \
        c->field = from->field;                                                                     \
        c->field##_at = from->field##_at;                                                           \
    } while (0)
    INHERIT(main_key);
    INHERIT(state);
    c->state_directive = (add->state_at.set ? add : base)->state_directive;
    INHERIT(label);
    INHERIT(interval);
    INHERIT(keep);
#undef INHERIT
    c->keys = NULL;
    return c;
}

static const char *where(cmd_parms *cmd) {
    if (cmd->directive == NULL || cmd->directive->filename == NULL) {
        return "command line";
    }
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename, cmd->directive->line_num);
}

static const char *set_main_key(cmd_parms *cmd, void *dconf, const char *arg) {
    (void)dconf;
    kw_server_conf *c = conf_of(cmd->server);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || *arg == '\0') {
        return apr_psprintf(cmd->pool, "KeywheelMainKey \"%s\": not a valid path", arg);
    }
    c->main_key = path;
    c->main_key_at.set = 1;
    c->main_key_at.where = where(cmd);
    return NULL;
}

static const char *set_state(cmd_parms *cmd, void *dconf, const char *arg) {
    (void)dconf;
    kw_server_conf *c = conf_of(cmd->server);
    const char *path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL || *arg == '\0') {
        return apr_psprintf(cmd->pool, "KeywheelState \"%s\": not a valid path", arg);
    }
    c->state = path;
    c->state_directive = "KeywheelState";
    c->state_at.set = 1;
    c->state_at.where = where(cmd);
    return NULL;
}

/* As the CLI's --state-credential: one file name inside $CREDENTIALS_DIRECTORY. */
static const char *set_state_credential(cmd_parms *cmd, void *dconf, const char *arg) {
    (void)dconf;
    kw_server_conf *c = conf_of(cmd->server);
    if (*arg == '\0' || strcmp(arg, ".") == 0 || strcmp(arg, "..") == 0 ||
        strchr(arg, '/') != NULL) {
        return apr_psprintf(cmd->pool, "KeywheelStateCredential \"%s\" is not a credential name "
                            "(a file name without '/')", arg);
    }
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (dir == NULL || *dir == '\0') {
        return apr_psprintf(cmd->pool, "KeywheelStateCredential %s: $CREDENTIALS_DIRECTORY is "
                            "not set; systemd sets it for services with LoadCredential= or "
                            "SetCredential= (use KeywheelState FILE otherwise)", arg);
    }
    c->state = apr_pstrcat(cmd->pool, dir, "/", arg, NULL);
    c->state_directive = apr_pstrcat(cmd->pool, "KeywheelStateCredential ", arg, NULL);
    c->state_at.set = 1;
    c->state_at.where = where(cmd);
    return NULL;
}

static const char *set_label(cmd_parms *cmd, void *dconf, const char *arg) {
    (void)dconf;
    kw_server_conf *c = conf_of(cmd->server);
    c->label = arg; /* length and UTF-8 are checked by keywheel_ticket_keys_new */
    c->label_at.set = 1;
    c->label_at.where = where(cmd);
    return NULL;
}

/* Only the syntax (a decimal number); the range is libkeywheel's to check, in post_config. */
static const char *parse_number(cmd_parms *cmd, const char *arg, apr_uint64_t *out) {
    const char *name = cmd->cmd->name;
    if (!apr_isdigit(*arg)) {
        return apr_psprintf(cmd->pool, "%s \"%s\": not a whole number; %s", name, arg,
                            cmd->cmd->errmsg);
    }
    char *end = NULL;
    errno = 0;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < 0) {
        return apr_psprintf(cmd->pool, "%s \"%s\": not a whole number; %s", name, arg,
                            cmd->cmd->errmsg);
    }
    *out = (apr_uint64_t)v;
    return NULL;
}

static const char *set_interval(cmd_parms *cmd, void *dconf, const char *arg) {
    (void)dconf;
    kw_server_conf *c = conf_of(cmd->server);
    const char *err = parse_number(cmd, arg, &c->interval);
    if (err == NULL) {
        c->interval_at.set = 1;
        c->interval_at.where = where(cmd);
    }
    return err;
}

static const char *set_keep(cmd_parms *cmd, void *dconf, const char *arg) {
    (void)dconf;
    kw_server_conf *c = conf_of(cmd->server);
    const char *err = parse_number(cmd, arg, &c->keep);
    if (err == NULL) {
        c->keep_at.set = 1;
        c->keep_at.where = where(cmd);
    }
    return err;
}

/* libkeywheel's message of its last failure on this thread (it names the value and range). */
static const char *last_message(apr_pool_t *p, keywheel_result r) {
    char buf[KEYWHEEL_MESSAGE_MAX_LEN];
    size_t len = 0;
    if (keywheel_last_error_message(buf, sizeof buf, &len) != KEYWHEEL_RESULT_OK || len == 0) {
        return keywheel_result_message(r);
    }
    return apr_pstrndup(p, buf, len);
}

static const char *server_name(apr_pool_t *p, server_rec *s) {
    return apr_psprintf(p, "%s:%u", s->server_hostname ? s->server_hostname : "(no name)",
                        (unsigned)s->port);
}

/*
 * Apache loads its configuration twice at start: a first pass (discarded) and the real one. The
 * keys made in the first pass are carried over to the second, so that the main key is read once
 * at start; each graceful restart reads it again (which is how a new main key is picked up).
 * The list outlives the configuration pool because the module is pinned (pin_module).
 */
typedef struct carried_keys {
    struct carried_keys *next;
    char *source;
    int fs;
    char *label;
    apr_uint64_t interval;
    apr_uint64_t keep;
    keywheel_ticket_keys *keys;
} carried_keys;

static carried_keys *carried;

static int first_start_pass(void) {
    return ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
}

static void free_carried(carried_keys *k) {
    free(k->source);
    free(k->label);
    free(k);
}

static void drop_carried(void) {
    while (carried != NULL) {
        carried_keys *next = carried->next;
        keywheel_ticket_keys_free(carried->keys);
        free_carried(carried);
        carried = next;
    }
}

/* pconf cleanup of a server's own keys: freed (wiped) with the configuration. */
static apr_status_t free_ticket_keys(void *conf) {
    kw_server_conf *c = conf;
    keywheel_ticket_keys_free(c->keys);
    c->keys = NULL;
    return APR_SUCCESS;
}

/* pconf cleanup in the first start pass: hand the keys to the second pass. */
static apr_status_t carry_ticket_keys(void *conf) {
    kw_server_conf *c = conf;
    carried_keys *k = calloc(1, sizeof *k);
    if (k != NULL) {
        k->source = strdup(c->source);
        k->label = strdup(c->label);
        k->fs = c->fs;
    }
    if (k == NULL || k->source == NULL || k->label == NULL) {
        if (k != NULL) {
            free_carried(k);
        }
        return free_ticket_keys(conf); /* the second pass reads the source again */
    }
    k->interval = c->interval;
    k->keep = c->keep;
    k->keys = c->keys;
    c->keys = NULL;
    k->next = carried;
    carried = k;
    return APR_SUCCESS;
}

/* In the second start pass: the first pass's keys of the same parameters, if any. */
static int take_carried(apr_pool_t *pconf, kw_server_conf *c) {
    for (carried_keys **p = &carried; *p != NULL; p = &(*p)->next) {
        carried_keys *k = *p;
        if (k->fs == c->fs && strcmp(k->source, c->source) == 0 &&
            strcmp(k->label, c->label) == 0 && k->interval == c->interval && k->keep == c->keep) {
            c->keys = k->keys;
            *p = k->next;
            free_carried(k);
            apr_pool_cleanup_register(pconf, c, free_ticket_keys, apr_pool_cleanup_null);
            return 1;
        }
    }
    return 0;
}

static int same_parameters(const kw_server_conf *a, const kw_server_conf *b) {
    return a->fs == b->fs && strcmp(a->source, b->source) == 0 &&
           strcmp(a->label, b->label) == 0 && a->interval == b->interval && a->keep == b->keep;
}

/* The unix time (what the ticket callback's clock says). */
static uint64_t unix_now(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec;
}

/* "KeywheelMainKey /path (file:line)" or "KeywheelState /path (file:line)", for messages. */
static const char *source_text(apr_pool_t *p, const kw_server_conf *c) {
    if (c->fs) {
        return apr_psprintf(p, "%s %s (%s)", c->state_directive, c->state, c->state_at.where);
    }
    return apr_psprintf(p, "KeywheelMainKey %s (%s)", c->main_key, c->main_key_at.where);
}

/* A loaded key source: a main key, or a forward-secure state. */
typedef struct {
    keywheel_main_key *main_key;
    keywheel_state *state;
} kw_source;

/*
 * The ticket keys of one server, derived from a loaded source. Logs and returns non-zero on
 * a bad value.
 */
static int derive_for(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, const kw_source *src) {
    kw_server_conf *c = conf_of(s);
    uint64_t now = unix_now();
    keywheel_result r =
        c->fs ? keywheel_ticket_keys_from_state(src->state, (const uint8_t *)c->label,
                                                strlen(c->label), KEYWHEEL_STRENGTH_AES256,
                                                c->interval, c->keep, now, &c->keys)
              : keywheel_ticket_keys_new(src->main_key, (const uint8_t *)c->label,
                                         strlen(c->label), KEYWHEEL_STRENGTH_AES256, c->interval,
                                         c->keep, &c->keys);
    if (r == KEYWHEEL_RESULT_OK) {
        apr_pool_cleanup_register(pconf, c, first_start_pass() ? carry_ticket_keys
                                                               : free_ticket_keys,
                                  apr_pool_cleanup_null);
        return 0;
    }
    const char *msg = last_message(ptemp, r);
    const char *directive;
    switch (r) {
    case KEYWHEEL_RESULT_INTERVAL:
        directive = apr_psprintf(ptemp, "KeywheelInterval %" APR_UINT64_T_FMT " (%s)",
                                 c->interval, c->interval_at.where);
        break;
    case KEYWHEEL_RESULT_KEEP:
        directive = apr_psprintf(ptemp,
                                 "KeywheelKeep %" APR_UINT64_T_FMT " (%s) with KeywheelInterval "
                                 "%" APR_UINT64_T_FMT " (%s)",
                                 c->keep, c->keep_at.where, c->interval, c->interval_at.where);
        break;
    case KEYWHEEL_RESULT_LABEL_LENGTH:
    case KEYWHEEL_RESULT_LABEL_NOT_UTF8:
        directive = apr_psprintf(ptemp, "KeywheelLabel \"%s\" (%s)",
                                 ap_escape_logitem(ptemp, c->label), c->label_at.where);
        break;
    case KEYWHEEL_RESULT_PUNCTURED:
    case KEYWHEEL_RESULT_TIME:
        directive = apr_psprintf(ptemp, "%s with KeywheelInterval %" APR_UINT64_T_FMT
                                 " and KeywheelKeep %" APR_UINT64_T_FMT " at unix time %"
                                 APR_UINT64_T_FMT, source_text(ptemp, c), c->interval, c->keep,
                                 (apr_uint64_t)now);
        break;
    default:
        directive = "mod_keywheel";
        break;
    }
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_keywheel: %s, server %s: %s", directive,
                 server_name(ptemp, s), msg);
    return 1;
}

/*
 * Keys without reading the main key: those of an earlier server with the same parameters, or
 * those the first start pass made. Returns 1 when found.
 */
static int reuse_keys(apr_pool_t *pconf, server_rec *base, server_rec *s) {
    kw_server_conf *c = conf_of(s);
    if (c->label == NULL) {
        return 0;
    }
    for (server_rec *u = base; u != s; u = u->next) {
        kw_server_conf *cu = conf_of(u);
        if (cu->keys != NULL && cu->source != NULL && same_parameters(cu, c)) {
            c->keys = cu->keys;
            return 1;
        }
    }
    return take_carried(pconf, c);
}

/*
 * Turns each server's key source into ticket keys. The main key file of each distinct path is
 * read once per configuration load, used for every server naming it, then wiped and freed.
 */
static int load_ticket_keys(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *base) {
    for (server_rec *s = base; s != NULL; s = s->next) {
        kw_server_conf *c = conf_of(s);
        if (c->source == NULL || c->keys != NULL || reuse_keys(pconf, base, s)) {
            continue;
        }
        kw_source src = {NULL, NULL};
        keywheel_result r = c->fs ? keywheel_state_from_file(c->source, &src.state)
                                  : keywheel_main_key_from_file(c->source, &src.main_key);
        if (r != KEYWHEEL_RESULT_OK) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_keywheel: %s, server %s: %s",
                         source_text(ptemp, c), server_name(ptemp, s), last_message(ptemp, r));
            return 1;
        }
        if (c->fs) {
            uint8_t id[KEYWHEEL_ROOT_ID_LEN];
            uint64_t s0 = 0;
            if (keywheel_state_root_id(src.state, id, sizeof id) == KEYWHEEL_RESULT_OK &&
                keywheel_state_s0(src.state, &s0) == KEYWHEEL_RESULT_OK) {
                char hex[2 * KEYWHEEL_ROOT_ID_LEN + 1];
                for (size_t i = 0; i < sizeof id; i++) {
                    apr_snprintf(hex + 2 * i, 3, "%02x", id[i]);
                }
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "mod_keywheel: %s: forward-secure "
                             "state of root id %s, starting at unix time %" APR_UINT64_T_FMT
                             " (read only: the module advances copies in memory, never the file)",
                             source_text(ptemp, c), hex, (apr_uint64_t)s0);
            }
        }
        int failed = 0;
        for (server_rec *t = s; t != NULL && !failed; t = t->next) {
            kw_server_conf *ct = conf_of(t);
            if (ct->source == NULL || ct->keys != NULL || ct->fs != c->fs ||
                strcmp(ct->source, c->source) != 0) {
                continue;
            }
            if (ct->label == NULL) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, t, "mod_keywheel: %s but no "
                             "KeywheelLabel for server %s: set the label every server of the "
                             "cluster uses (1..=%d bytes of UTF-8)", source_text(ptemp, ct),
                             server_name(ptemp, t), KEYWHEEL_MAX_LABEL_LEN);
                failed = 1;
                break;
            }
            if (!reuse_keys(pconf, base, t)) {
                failed = derive_for(pconf, ptemp, t, &src);
            }
        }
        /* wiped: only the derived keys (forward-secure: their own advanced copies) stay */
        keywheel_main_key_free(src.main_key);
        keywheel_state_free(src.state);
        if (failed) {
            return 1;
        }
    }
    return 0;
}

/*
 * Each server's key source, from its directives (after merging): a main key or a state, never
 * both (logs and returns non-zero then).
 */
static int resolve_sources(apr_pool_t *ptemp, server_rec *base) {
    for (server_rec *s = base; s != NULL; s = s->next) {
        kw_server_conf *c = conf_of(s);
        if (c->main_key != NULL && c->state != NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_keywheel: KeywheelMainKey %s (%s) "
                         "and %s %s (%s) both apply to server %s: a server takes its keys from "
                         "a main key or from a forward-secure state, never both; remove one",
                         c->main_key, c->main_key_at.where, c->state_directive, c->state,
                         c->state_at.where, server_name(ptemp, s));
            return 1;
        }
        c->fs = c->state != NULL;
        c->source = c->fs ? c->state : c->main_key;
    }
    return 0;
}

static int installed_count;

/*
 * check_config runs after every configuration load, before the logs are opened (messages go to
 * the terminal, or to the error log on a graceful restart) and also for `apachectl configtest`,
 * so a bad value is reported there too. mod_ssl's post_config, later in the same load, installs
 * the keys made here.
 */
static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                        server_rec *base) {
    (void)plog;
    installed_count = 0;
    int first = first_start_pass();
    if (first) {
        drop_carried();
    }
    int failed = resolve_sources(ptemp, base) || load_ticket_keys(pconf, ptemp, base);
    if (!first) {
        drop_carried(); /* keys of the first pass that the second did not use */
    }
    return failed ? HTTP_INTERNAL_SERVER_ERROR /* Apache stops: "Configuration Failed" */ : OK;
}

/* After mod_ssl's post_config: say so when keys were made but no SSL server uses them. */
static int post_config_check(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *base) {
    (void)pconf;
    (void)plog;
    (void)ptemp;
    for (server_rec *s = base; s != NULL; s = s->next) {
        if (conf_of(s)->keys != NULL && installed_count == 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "mod_keywheel: %s is set but no SSL "
                         "virtual host was initialised by mod_ssl (is mod_ssl loaded and "
                         "SSLEngine on?)", source_text(ptemp, conf_of(s)));
            break;
        }
    }
    return OK;
}

/*
 * Forward-secure mode: moving the keys' copies of the state forward.
 *
 * libkeywheel needs exclusive access to advance a handle, while handshakes read it from many
 * threads: handshakes hold fs_lock for reading (fs_ticket_key_cb), an advance holds it for
 * writing, once per interval and handle. Writers are preferred so that a busy server cannot
 * delay the wipe.
 */
static pthread_rwlock_t fs_lock;
static pthread_once_t fs_lock_once = PTHREAD_ONCE_INIT;

static void fs_lock_init(void) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&fs_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

static int fs_ticket_key_cb(SSL *ssl, unsigned char key_name[16],
                            unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cipher,
                            EVP_MAC_CTX *mac, int enc) {
    pthread_rwlock_rdlock(&fs_lock);
    int r = keywheel_openssl_ticket_key_cb(ssl, key_name, iv, cipher, mac, enc);
    pthread_rwlock_unlock(&fs_lock);
    return r;
}

/*
 * Advances every forward-secure handle of this process whose interval changed since its last
 * advance, to the start of the oldest key accepted now: the tree nodes that derived the key
 * that just left the window are wiped. A handle shared by several servers is advanced once
 * (the call is idempotent anyway). Clock behind the state: the keys stay as they are (the
 * handshakes then get no ticket key and make full handshakes), logged once per interval.
 */
static void advance_all(server_rec *base) {
    pthread_once(&fs_lock_once, fs_lock_init); /* also when no SSL server installed the keys */
    uint64_t now = unix_now();
    for (server_rec *s = base; s != NULL; s = s->next) {
        kw_server_conf *c = conf_of(s);
        if (!c->fs || c->keys == NULL) {
            continue;
        }
        uint64_t counter = now / c->interval;
        if (counter == c->advanced_to) {
            continue;
        }
        pthread_rwlock_wrlock(&fs_lock);
        keywheel_result r = keywheel_ticket_keys_advance(c->keys, now);
        pthread_rwlock_unlock(&fs_lock);
        if (r == KEYWHEEL_RESULT_OK) {
            c->advanced_to = counter;
            c->advance_failed = 0;
        } else if (!c->advance_failed) {
            char buf[KEYWHEEL_MESSAGE_MAX_LEN];
            size_t len = 0;
            const char *msg = keywheel_result_message(r);
            if (keywheel_last_error_message(buf, sizeof buf, &len) == KEYWHEEL_RESULT_OK &&
                len > 0 && len < sizeof buf) {
                buf[len] = '\0';
                msg = buf;
            }
            c->advance_failed = 1;
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "mod_keywheel: %s: cannot serve the keys "
                         "of unix time %" APR_UINT64_T_FMT " (pid %ld): %s", c->state,
                         (apr_uint64_t)now, (long)getpid(), msg);
        }
    }
}

/* The parent: its copies move forward too (mod_mpm runs monitor about every 10 s). */
static int monitor(apr_pool_t *p, server_rec *s) {
    (void)p;
    advance_all(s);
    return DECLINED;
}

/* A child: a thread of its own wakes every second and advances at each boundary. */
typedef struct {
    server_rec *base;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pthread_t thread;
    int stop;
} fs_ticker;

static void *fs_ticker_main(void *arg) {
    fs_ticker *t = arg;
    pthread_mutex_lock(&t->mutex);
    while (!t->stop) {
        pthread_mutex_unlock(&t->mutex);
        advance_all(t->base);
        pthread_mutex_lock(&t->mutex);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 1;
        int rc = 0;
        while (!t->stop && rc == 0) { /* 0: signalled or a spurious wake-up */
            rc = pthread_cond_timedwait(&t->cond, &t->mutex, &deadline);
        }
        if (!t->stop && rc != ETIMEDOUT) {
            /* a failing wait must not turn the loop into a busy one: sleep instead */
            pthread_mutex_unlock(&t->mutex);
            sleep(1);
            pthread_mutex_lock(&t->mutex);
        }
    }
    pthread_mutex_unlock(&t->mutex);
    return NULL;
}

static apr_status_t fs_ticker_stop(void *arg) {
    fs_ticker *t = arg;
    pthread_mutex_lock(&t->mutex);
    t->stop = 1;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mutex);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->mutex);
    return APR_SUCCESS;
}

static void child_init(apr_pool_t *pchild, server_rec *base) {
    int any = 0;
    for (server_rec *s = base; s != NULL && !any; s = s->next) {
        any = conf_of(s)->fs && conf_of(s)->keys != NULL;
    }
    if (!any) {
        return;
    }
    fs_ticker *t = apr_pcalloc(pchild, sizeof *t);
    t->base = base;
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    pthread_mutex_init(&t->mutex, NULL);
    /* The thread takes no signal: the MPM's own threads handle them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->thread, NULL, fs_ticker_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->mutex);
        ap_log_error(APLOG_MARK, APLOG_ERR, rc, base, "mod_keywheel: cannot start the thread "
                     "that advances the forward-secure keys; they advance at each new "
                     "configuration load only");
        advance_all(base);
        return;
    }
    apr_pool_cleanup_register(pchild, t, fs_ticker_stop, apr_pool_cleanup_null);
}

static int init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx) {
    kw_server_conf *c = conf_of(s);
    if (is_proxy || c->keys == NULL) {
        return DECLINED; /* client side, or keywheel not configured here: mod_ssl's tickets */
    }
    if (SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "mod_keywheel: server %s has "
                     "SSLSessionTickets off: no tickets to encrypt", server_name(p, s));
        return DECLINED;
    }
    /* Replaces mod_ssl's callback (SSLSessionTicketKeyFile) if it set one. */
    if (keywheel_openssl_install(ctx, c->keys, NULL, NULL) != 1) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_keywheel: cannot install the "
                     "ticket-key callback for server %s (OpenSSL allocation failure)",
                     server_name(p, s));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (c->fs) {
        pthread_once(&fs_lock_once, fs_lock_init);
        if (!SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, fs_ticket_key_cb)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_keywheel: cannot install the "
                         "ticket-key callback for server %s", server_name(p, s));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        c->advanced_to = unix_now() / c->interval; /* from_state advanced it to now */
    }
    installed_count++;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "mod_keywheel: server %s: session tickets with "
                 "keywheel keys of label \"%s\", interval %" APR_UINT64_T_FMT " s, keep "
                 "%" APR_UINT64_T_FMT "%s (libkeywheel %s)", server_name(p, s),
                 ap_escape_logitem(p, c->label), c->interval, c->keep,
                 c->fs ? ", forward-secure" : "", keywheel_version());
    return OK;
}

/*
 * The OpenSSL glue registers a free callback for its SSL_CTX ex_data slot with OpenSSL, which
 * lives as long as the process; mod_so would unload this module at each restart, leaving that
 * callback dangling (OpenSSL calls it for every SSL_CTX it frees). So the module pins itself
 * (RTLD_NODELETE) on its first load: later loads reuse the same copy, slot and callback.
 */
static void pin_module(void) {
    static int pinned; /* kept across restarts, since the module then stays loaded */
    if (pinned) {
        return;
    }
    Dl_info info;
    if (dladdr((const void *)&keywheel_module, &info) != 0 && info.dli_fname != NULL &&
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL) {
        pinned = 1;
    } else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, NULL, "mod_keywheel: cannot pin the module "
                     "in memory (%s): a graceful restart that unloads it may crash",
                     dlerror());
    }
}

static void register_hooks(apr_pool_t *p) {
    (void)p;
    pin_module();
    static const char *const after_ssl[] = {"mod_ssl.c", NULL};
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config_check, after_ssl, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, init_server, init_server, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
}

#define STR_(x) #x
#define STR(x) STR_(x)

static const command_rec commands[] = {
    AP_INIT_TAKE1("KeywheelMainKey", set_main_key, NULL, RSRC_CONF,
                  "file holding the cluster's main key (its first 32 bytes; owner-only mode)"),
    AP_INIT_TAKE1("KeywheelState", set_state, NULL, RSRC_CONF,
                  "forward-secure state file (keywheel state new; owner-only mode); read, never "
                  "written; not with KeywheelMainKey"),
    AP_INIT_TAKE1("KeywheelStateCredential", set_state_credential, NULL, RSRC_CONF,
                  "the forward-secure state as systemd credential: a name in "
                  "$CREDENTIALS_DIRECTORY"),
    AP_INIT_TAKE1("KeywheelLabel", set_label, NULL, RSRC_CONF,
                  "ticket label shared by the cluster (1.." STR(KEYWHEEL_MAX_LABEL_LEN)
                  " bytes of UTF-8)"),
    AP_INIT_TAKE1("KeywheelInterval", set_interval, NULL, RSRC_CONF,
                  "rotation interval in seconds, even, in " STR(KEYWHEEL_MIN_INTERVAL) ".."
                  STR(KEYWHEEL_MAX_INTERVAL) " (default " STR(DEFAULT_INTERVAL) ")"),
    AP_INIT_TAKE1("KeywheelKeep", set_keep, NULL, RSRC_CONF,
                  "how many previous keys are still accepted (default " STR(DEFAULT_KEEP)
                  "; (keep + 1) * interval at most " STR(KEYWHEEL_MAX_TICKET_AGE) " s)"),
    {NULL, {NULL}, NULL, 0, RAW_ARGS, NULL},
};

AP_DECLARE_MODULE(keywheel) = {
    STANDARD20_MODULE_STUFF,
    NULL,              /* per-directory config */
    NULL,              /* merge per-directory */
    create_server_conf,
    merge_server_conf,
    commands,
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE,
#endif
};
