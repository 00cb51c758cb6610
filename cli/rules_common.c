/* SPDX-License-Identifier: Apache-2.0 */
/* Rule loading and event reading shared by `rules` and `hunt` (see rules_common.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rules_common.h"
#include "watchkeeper/error.h"
#include "watchkeeper/wkconfig.h"

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *wk_rules_default_dir(void)
{
    return wk_config_rules_dir();
}

/* The config file `name`: explicit, else next to the first rule path, else the pack's. */
static const char *config_path(const char *explicit_path, char **paths, int npaths,
                               const char *name, char *buf, size_t len)
{
    if (explicit_path)
        return explicit_path;
    for (int i = 0; i < npaths; i++) {
        if (is_dir(paths[i])) {
            snprintf(buf, len, "%s/%s", paths[i], name);
        } else {
            const char *slash = strrchr(paths[i], '/');
            if (slash)
                snprintf(buf, len, "%.*s/%s", (int)(slash - paths[i]), paths[i], name);
            else
                snprintf(buf, len, "%s", name);
        }
        if (is_file(buf))
            return buf;
    }
    snprintf(buf, len, "%s/%s", wk_rules_default_dir(), name);
    return is_file(buf) ? buf : NULL;
}

static void print_rejects(FILE *f, const struct wk_rule_loader *l, size_t from)
{
    for (size_t i = from; f && i < wk_rule_loader_nrejects(l); i++) {
        const struct wk_rule_reject *r = wk_rule_loader_reject(l, i);
        fprintf(f, "%s:%u:%u: %s\n", r->file, r->line, r->col, r->msg);
    }
}

int wk_rules_load(const char *cmd, const struct wk_rules_opts *o, char **paths, int npaths,
                  FILE *rej, size_t *nrej, struct wk_ruleset **out)
{
    struct wk_rule_loader *l = NULL;
    char lsbuf[PATH_MAX], phbuf[PATH_MAX];
    int rc = wk_rule_loader_new(&l);
    if (rc < 0) {
        wk_cli_error(cmd, "%s", wk_strerror(rc));
        return rc;
    }
    const char *ls = config_path(o->logsources, paths, npaths, "logsources.yaml", lsbuf,
                                 sizeof(lsbuf));
    if (!ls) {
        wk_cli_error(cmd, "no logsources.yaml found (use --logsources FILE)");
        rc = -ENOENT;
        goto out;
    }
    rc = wk_rule_loader_logsources(l, ls);
    if (rc < 0 && rc != WK_ERULE_SYNTAX) {
        wk_cli_error(cmd, "%s: %s", ls, wk_strerror(rc));
        goto out;
    }
    const char *ph = config_path(o->placeholders, paths, npaths, "placeholders.yaml", phbuf,
                                 sizeof(phbuf));
    if (ph) {
        rc = wk_rule_loader_placeholders(l, ph);
        if (rc < 0 && rc != WK_ERULE_SYNTAX) {
            wk_cli_error(cmd, "%s: %s", ph, wk_strerror(rc));
            goto out;
        }
    }
    for (int i = 0; i < npaths; i++) {
        rc = wk_rule_loader_add(l, paths[i]);
        if (rc < 0) {
            wk_cli_error(cmd, "%s: %s", paths[i], wk_strerror(rc));
            goto out;
        }
    }
    wk_rule_loader_set_prefilter(l, !o->no_prefilter);
    rc = wk_rule_loader_build(l, out);
    if (rc < 0) {
        wk_cli_error(cmd, "%s", wk_strerror(rc));
        goto out;
    }
    print_rejects(rej, l, 0);
    *nrej = wk_rule_loader_nrejects(l);
    rc = 0;
out:
    wk_rule_loader_free(l);
    return rc;
}

long wk_events_read(const char *cmd, const char *path, struct wk_event ***evs)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        wk_cli_error(cmd, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char *line = NULL;
    size_t cap = 0, n = 0, alloc = 0;
    ssize_t len;
    long lineno = 0;
    struct wk_event **v = NULL;
    long rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (len == 0)
            continue;
        if (n == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            struct wk_event **nv = realloc(v, alloc * sizeof(*v));
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        const char *err = NULL;
        if (wk_event_new(&v[n]) < 0) {
            rc = -ENOMEM;
            break;
        }
        if (wk_event_from_json(v[n], line, (size_t)len, &err) < 0) {
            wk_cli_error(cmd, "%s:%ld: %s", path, lineno, err ? err : "bad event");
            wk_event_free(v[n]);
            rc = WK_EPARSE;
            break;
        }
        n++;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            wk_event_free(v[i]);
        free(v);
        return rc;
    }
    *evs = v;
    return (long)n;
}
