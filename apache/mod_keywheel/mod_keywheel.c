/*
 * mod_keywheel: Apache httpd 2.4 session-ticket keys from keywheel, rotating with no restart.
 *
 * Every SSL virtual host with a KeywheelMainKey gets keywheel's OpenSSL ticket-key callback
 * (ffi/openssl/keywheel_openssl.c) through mod_ssl's optional hook `init_server`, which mod_ssl
 * runs for each server SSL_CTX at the end of its post_config. The callback reads the clock on
 * every call, so the server
 *   - encrypts new tickets with the current key (interval floor(now / KeywheelInterval)),
 *   - accepts tickets of the next key and of the KeywheelKeep previous ones, and renews those,
 *   - refuses older tickets (full handshake),
 *   - and moves to the next key at the interval boundary by itself: no restart, no key file.
 * Tickets are AES-256-CBC and HMAC-SHA256 with keywheel's keys (mod_ssl's own file key is not
 * used, so its OpenSSL 3 HMAC-key bug does not apply).
 *
 * Directives (server config and <VirtualHost>; a virtual host inherits what it does not set):
 *   KeywheelMainKey  path   the cluster's main key (at least 32 bytes, mode 0600 or stricter)
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
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE (apxs defines it too) */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_config.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apu.h"
#include "apr_optional_hooks.h"

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
     * Where the keys come from. Today only KeywheelMainKey (the main key file). KeywheelState
     * (forward-secure mode, a ratcheted state file) will be a second source here, exclusive with
     * the main key; load_ticket_keys() is the one place that turns a source into keys.
     */
    const char *main_key; /* absolute path, or NULL: keywheel is off for this server */
    kw_origin main_key_at;
    const char *label;
    kw_origin label_at;
    apr_uint64_t interval;
    kw_origin interval_at;
    apr_uint64_t keep;
    kw_origin keep_at;
    /* Built in check_config (parent); shared by servers with the same source and parameters. */
    keywheel_ticket_keys *keys;
} kw_server_conf;

static kw_server_conf *conf_of(server_rec *s) {
    return (kw_server_conf *)ap_get_module_config(s->module_config, &keywheel_module);
}

static void *create_server_conf(apr_pool_t *p, server_rec *s) {
    (void)s;
    kw_server_conf *c = apr_pcalloc(p, sizeof *c);
    c->interval = DEFAULT_INTERVAL;
    c->keep = DEFAULT_KEEP;
    c->main_key_at.where = c->label_at.where = "not set";
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
    char *main_key;
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
    free(k->main_key);
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
        k->main_key = strdup(c->main_key);
        k->label = strdup(c->label);
    }
    if (k == NULL || k->main_key == NULL || k->label == NULL) {
        if (k != NULL) {
            free_carried(k);
        }
        return free_ticket_keys(conf); /* the second pass reads the main key again */
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
        if (strcmp(k->main_key, c->main_key) == 0 && strcmp(k->label, c->label) == 0 &&
            k->interval == c->interval && k->keep == c->keep) {
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
    return strcmp(a->main_key, b->main_key) == 0 && strcmp(a->label, b->label) == 0 &&
           a->interval == b->interval && a->keep == b->keep;
}

/*
 * The ticket keys of one server, derived from a loaded main key. Logs and returns non-zero on
 * a bad value.
 */
static int derive_for(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                      const keywheel_main_key *main_key) {
    kw_server_conf *c = conf_of(s);
    keywheel_result r =
        keywheel_ticket_keys_new(main_key, (const uint8_t *)c->label, strlen(c->label),
                                 KEYWHEEL_STRENGTH_AES256, c->interval, c->keep, &c->keys);
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
        if (cu->keys != NULL && cu->main_key != NULL && same_parameters(cu, c)) {
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
        if (c->main_key == NULL || c->keys != NULL || reuse_keys(pconf, base, s)) {
            continue;
        }
        keywheel_main_key *main_key = NULL;
        keywheel_result r = keywheel_main_key_from_file(c->main_key, &main_key);
        if (r != KEYWHEEL_RESULT_OK) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "mod_keywheel: KeywheelMainKey %s (%s), "
                         "server %s: %s", c->main_key, c->main_key_at.where,
                         server_name(ptemp, s), last_message(ptemp, r));
            return 1;
        }
        int failed = 0;
        for (server_rec *t = s; t != NULL && !failed; t = t->next) {
            kw_server_conf *ct = conf_of(t);
            if (ct->main_key == NULL || ct->keys != NULL || strcmp(ct->main_key, c->main_key)) {
                continue;
            }
            if (ct->label == NULL) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, t, "mod_keywheel: KeywheelMainKey %s "
                             "(%s) but no KeywheelLabel for server %s: set the label every "
                             "server of the cluster uses (1..=%d bytes of UTF-8)", ct->main_key,
                             ct->main_key_at.where, server_name(ptemp, t),
                             KEYWHEEL_MAX_LABEL_LEN);
                failed = 1;
                break;
            }
            if (!reuse_keys(pconf, base, t)) {
                failed = derive_for(pconf, ptemp, t, main_key);
            }
        }
        keywheel_main_key_free(main_key); /* wipes it: only the derived keys stay */
        if (failed) {
            return 1;
        }
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
    int failed = load_ticket_keys(pconf, ptemp, base);
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
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "mod_keywheel: KeywheelMainKey is set "
                         "(%s) but no SSL virtual host was initialised by mod_ssl "
                         "(is mod_ssl loaded and SSLEngine on?)", conf_of(s)->main_key_at.where);
            break;
        }
    }
    return OK;
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
    installed_count++;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "mod_keywheel: server %s: session tickets with "
                 "keywheel keys of label \"%s\", interval %" APR_UINT64_T_FMT " s, keep "
                 "%" APR_UINT64_T_FMT " (libkeywheel %s)", server_name(p, s),
                 ap_escape_logitem(p, c->label), c->interval, c->keep, keywheel_version());
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
}

#define STR_(x) #x
#define STR(x) STR_(x)

static const command_rec commands[] = {
    AP_INIT_TAKE1("KeywheelMainKey", set_main_key, NULL, RSRC_CONF,
                  "file holding the cluster's main key (its first 32 bytes; owner-only mode)"),
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
