/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper rules check|list|test: validate Sigma rules, list them, run their samples. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "rules_common.h"
#include "watchkeeper/error.h"

const char wk_cmd_rules_usage[] =
    "usage: watchkeeper rules check [OPTIONS] PATH...\n"
    "       watchkeeper rules list [OPTIONS] [PATH...]\n"
    "       watchkeeper rules test [OPTIONS] DIR\n\n"
    "Sigma detection and correlation rules (docs/rules.md).\n\n"
    "  check   load every rule file under PATH (files or directories); print each rejected\n"
    "          rule as FILE:LINE:COL: reason; exit 1 when any rule is rejected\n"
    "  list    table of id, title, level, logsource (default: the rule pack)\n"
    "  test    for each rule file DIR/X.yml, replay DIR/samples/X.pos.jsonl and\n"
    "          DIR/samples/X.neg.jsonl through the file's last rule: a detection rule must\n"
    "          alert on every positive event, a correlation at least once; neither on any\n"
    "          negative event; exit 1 on any failure or missing sample\n\n"
    "Options:\n"
    "  --logsources FILE    logsource mapping (default: PATH/logsources.yaml, else the pack's)\n"
    "  --placeholders FILE  values for the `expand` modifier (default: likewise)\n"
    "  -v, --verbose        test: print each alert as JSON\n";

static const struct option longopts[] = {
    { "logsources", required_argument, NULL, 'L' },
    { "placeholders", required_argument, NULL, 'P' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static int cmd_check(struct wk_rules_opts *o, char **paths, int n)
{
    struct wk_ruleset *rs = NULL;
    size_t nrej = 0;
    if (n < 1) {
        wk_cli_error("rules", "check: expected at least one PATH");
        return WK_EXIT_USAGE;
    }
    if (wk_rules_load("rules", o, paths, n, stdout, &nrej, &rs) < 0)
        return WK_EXIT_RUNTIME;
    size_t nr = wk_ruleset_nrules(rs), nc = 0;
    for (size_t i = 0; i < nr; i++)
        nc += wk_ruleset_rule(rs, i)->is_correlation;
    size_t nf = wk_ruleset_nfilters(rs);
    printf("%zu rules loaded (%zu detection, %zu correlation), ", nr, nr - nc, nc);
    if (nf)
        printf("%zu filter%s, ", nf, nf == 1 ? "" : "s");
    printf("%zu rejected\n", nrej);
    wk_ruleset_unref(rs);
    return nrej ? WK_EXIT_FOUND : WK_EXIT_OK;
}

static int cmd_list(struct wk_rules_opts *o, char **paths, int n)
{
    struct wk_ruleset *rs = NULL;
    size_t nrej = 0;
    char *def[1] = { (char *)wk_rules_default_dir() };
    if (n == 0) {
        paths = def;
        n = 1;
    }
    if (wk_rules_load("rules", o, paths, n, stderr, &nrej, &rs) < 0)
        return WK_EXIT_RUNTIME;
    printf("%-36s  %-13s  %-32s  %s\n", "ID", "LEVEL", "LOGSOURCE", "TITLE");
    for (size_t i = 0; i < wk_ruleset_nrules(rs); i++) {
        const struct wk_rule_info *r = wk_ruleset_rule(rs, i);
        char ls[128];
        if (r->is_correlation)
            snprintf(ls, sizeof(ls), "correlation:%s", r->corr_type);
        else
            snprintf(ls, sizeof(ls), "%s%s%s%s%s", r->product ? r->product : "",
                     r->service ? "/" : "", r->service ? r->service : "",
                     r->category ? "/" : "", r->category ? r->category : "");
        printf("%-36s  %-13s  %-32s  %s\n", r->id ? r->id : r->name ? r->name : "-",
               r->level ? r->level : "-", ls, r->title ? r->title : "");
    }
    wk_ruleset_unref(rs);
    return nrej ? WK_EXIT_FOUND : WK_EXIT_OK;
}

struct count {
    uint32_t rule;
    int hits, total;
    bool verbose;
};

static int on_alert(const struct wk_alert *a, void *data)
{
    struct count *c = data;
    c->total++;
    if (a->rule == c->rule)
        c->hits++;
    if (c->verbose) {
        char *j = NULL;
        if (wk_alert_to_json(a, &j, NULL) == 0)
            printf("  %s\n", j);
        free(j);
    }
    return 0;
}

/* Replay a sample file through a fresh scratch: alerts of rule `ri`, or -1 on error. */
static int replay(struct wk_ruleset *rs, uint32_t ri, const char *path, bool verbose,
                  long *nevents)
{
    struct wk_event **evs = NULL;
    long n = wk_events_read("rules", path, &evs);
    if (n < 0)
        return -1;
    *nevents = n;
    struct wk_rule_scratch *sc = NULL;
    struct count c = { ri, 0, 0, verbose };
    if (wk_rule_scratch_new(&sc, rs, NULL) < 0) {
        wk_cli_error("rules", "out of memory");
        c.hits = -1;
    }
    for (long i = 0; sc && i < n; i++)
        (void)wk_ruleset_eval_ref(rs, sc, evs[i], (uint64_t)i + 1, on_alert, &c);
    if (sc)
        (void)wk_rule_scratch_flush(sc, on_alert, &c);
    wk_rule_scratch_free(sc);
    for (long i = 0; i < n; i++)
        wk_event_free(evs[i]);
    free(evs);
    return c.hits;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int cmd_test(struct wk_rules_opts *o, char **paths, int n, bool verbose)
{
    if (n != 1) {
        wk_cli_error("rules", "test: expected one DIR");
        return WK_EXIT_USAGE;
    }
    struct wk_ruleset *rs = NULL;
    size_t nrej = 0;
    if (wk_rules_load("rules", o, paths, 1, stdout, &nrej, &rs) < 0)
        return WK_EXIT_RUNTIME;
    int failed = (int)nrej, passed = 0;
    const char *dir = paths[0];
    size_t dlen = strlen(dir);
    /* the primary rule of each file: its last document */
    for (size_t i = 0; i < wk_ruleset_nrules(rs); i++) {
        const struct wk_rule_info *r = wk_ruleset_rule(rs, i);
        const struct wk_rule_info *nx = wk_ruleset_rule(rs, i + 1);
        if (nx && !strcmp(nx->file, r->file))
            continue;
        const char *rel = r->file;
        if (!strncmp(rel, dir, dlen) && rel[dlen] == '/')
            rel += dlen + 1;
        char stem[PATH_MAX], pos[PATH_MAX + 64], neg[PATH_MAX + 64];
        snprintf(stem, sizeof(stem), "%s", rel);
        char *dot = strrchr(stem, '.');
        if (dot)
            *dot = 0;
        snprintf(pos, sizeof(pos), "%s/samples/%s.pos.jsonl", dir, stem);
        snprintf(neg, sizeof(neg), "%s/samples/%s.neg.jsonl", dir, stem);
        if (!exists(pos) || !exists(neg)) {
            printf("FAIL %s: missing %s\n", rel, exists(pos) ? neg : pos);
            failed++;
            continue;
        }
        long np = 0, nn = 0;
        int p = replay(rs, (uint32_t)i, pos, verbose, &np);
        int q = replay(rs, (uint32_t)i, neg, verbose, &nn);
        /* a detection rule alerts on every positive event; a correlation at least once */
        bool pos_ok = r->is_correlation ? p > 0 : p == np && np > 0;
        if (pos_ok && q == 0) {
            printf("ok   %s: %d alert(s) on positive sample, none on negative\n", rel, p);
            passed++;
        } else {
            printf("FAIL %s: %d alert(s) on %ld positive event(s) (want %s), %d on negative "
                   "(want 0)\n",
                   rel, p, np, r->is_correlation ? "> 0" : "one each", q);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    wk_ruleset_unref(rs);
    return failed ? WK_EXIT_FOUND : WK_EXIT_OK;
}

int wk_cmd_rules(int argc, char **argv)
{
    struct wk_rules_opts o = { 0 };
    bool verbose = false;
    if (argc < 2) {
        wk_cli_error("rules", "expected check, list or test (see 'watchkeeper help rules')");
        return WK_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (wk_cli_is_help(sub)) {
        fputs(wk_cmd_rules_usage, stdout);
        return WK_EXIT_OK;
    }
    argc--, argv++;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'L': o.logsources = optarg; break;
        case 'P': o.placeholders = optarg; break;
        case 'v': verbose = true; break;
        case 'h': fputs(wk_cmd_rules_usage, stdout); return WK_EXIT_OK;
        default:
            wk_cli_error("rules", "unknown option '%s'", argv[optind - 1]);
            return WK_EXIT_USAGE;
        }
    }
    char **rest = argv + optind;
    int n = argc - optind;
    if (!strcmp(sub, "check"))
        return cmd_check(&o, rest, n);
    if (!strcmp(sub, "list"))
        return cmd_list(&o, rest, n);
    if (!strcmp(sub, "test"))
        return cmd_test(&o, rest, n, verbose);
    wk_cli_error("rules", "unknown subcommand '%s' (check, list, test)", sub);
    return WK_EXIT_USAGE;
}
