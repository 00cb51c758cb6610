/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper hunt: run rules over stored history (or a JSON-lines file of events), or
 * compare what two versions of a rule set find on the same history. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rules_common.h"
#include "watchkeeper/error.h"
#include "watchkeeper/hunt.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"

const char wk_cmd_hunt_usage[] =
    "usage: watchkeeper hunt --rules PATH (--store DIR | --input FILE) [OPTIONS]\n"
    "       watchkeeper hunt --compare OLD NEW (--store DIR | --input FILE) [OPTIONS]\n\n"
    "Run Sigma rules over history: the events of a store (in parallel over its blocks, with\n"
    "the same alerts live evaluation gives) or of a JSON-lines file of events (evaluated\n"
    "one by one, exactly as the daemon does live). With --compare, run two versions of a\n"
    "rule set over the same events and print the alerts the change adds (+) and removes (-).\n\n"
    "Options:\n"
    "  -r, --rules PATH       rule file or directory (repeatable)\n"
    "  -s, --store DIR        the store to hunt in\n"
    "  -i, --input FILE       events in JSON form, one per line ('-': stdin)\n"
    "      --since TIME       from TIME (RFC 3339, or relative: 2h, 7d)\n"
    "      --until TIME       to TIME\n"
    "  -f, --format FMT       jsonl (default: one alert JSON per line), text, or count\n"
    "                         (alerts per rule: COUNT ID TITLE, like grep -c; store only)\n"
    "  -j, --threads N        worker threads (default: one per CPU)\n"
    "      --compare OLD NEW  compare two rule sets (files or directories)\n"
    "      --logsources FILE  logsource mapping (default: next to the rules, else the pack's)\n"
    "      --placeholders FILE values for `expand` (default: likewise)\n"
    "      --no-prefilter     evaluate every rule exactly, without the Hyperscan literal\n"
    "                         prefilters (same alerts, slower)\n"
    "      --no-block-prefilter  decode every stored event, without the block prefilter\n"
    "                         (same alerts, slower)\n"
    "      --stats            print blocks, events evaluated and skipped to stderr\n\n"
    "A progress bar is shown on a terminal. Alert \"ref\" = block * 2^32 + index (store) or\n"
    "the line number (input). Exit: 0 no alert (compare: no difference), 1 alerts found\n"
    "(compare: differences), 2 usage, 3 runtime error.\n";

enum { O_SINCE = 256, O_UNTIL, O_COMPARE, O_LS, O_PH, O_NOPF, O_NOBPF, O_STATS };
static const struct option longopts[] = {
    { "rules", required_argument, NULL, 'r' },
    { "store", required_argument, NULL, 's' },
    { "input", required_argument, NULL, 'i' },
    { "since", required_argument, NULL, O_SINCE },
    { "until", required_argument, NULL, O_UNTIL },
    { "format", required_argument, NULL, 'f' },
    { "threads", required_argument, NULL, 'j' },
    { "compare", no_argument, NULL, O_COMPARE },
    { "logsources", required_argument, NULL, O_LS },
    { "placeholders", required_argument, NULL, O_PH },
    { "no-prefilter", no_argument, NULL, O_NOPF },
    { "no-block-prefilter", no_argument, NULL, O_NOBPF },
    { "stats", no_argument, NULL, O_STATS },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

struct out {
    bool text, collect, count;
    uint64_t *counts; /* count: per rule index */
    char **v;
    size_t n, cap;
};

static const char *or_str(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static void print_text(const char *json, size_t len)
{
    json_t *a = json_loadb(json, len, 0, NULL);
    json_t *r = json_object_get(a, "rule");
    const char *cname = json_string_value(
        json_object_get(json_object_get(json_object_get(a, "event"), "container"), "name"));
    printf("%s %-8s %s%s%s%s rule=%s ref=%lld\n",
           json_string_value(json_object_get(a, "@timestamp")),
           or_str(json_string_value(json_object_get(r, "level")), "-"),
           or_str(json_string_value(json_object_get(r, "title")), "?"), cname ? " [" : "",
           cname ? cname : "", cname ? "]" : "",
           or_str(json_string_value(json_object_get(r, "id")), "-"),
           (long long)json_integer_value(json_object_get(a, "ref")));
    json_decref(a);
}

static int emit(const char *json, size_t len, void *arg)
{
    struct out *o = arg;
    if (o->collect) {
        if (o->n == o->cap) {
            size_t nc = o->cap ? o->cap * 2 : 64;
            char **nv = realloc(o->v, nc * sizeof(*nv));
            if (!nv)
                return -ENOMEM;
            o->v = nv;
            o->cap = nc;
        }
        o->v[o->n] = strndup(json, len);
        if (!o->v[o->n])
            return -ENOMEM;
        o->n++;
    } else if (o->text) {
        print_text(json, len);
    } else {
        fwrite(json, 1, len, stdout);
        fputc('\n', stdout);
    }
    return 0;
}

static void count_alert(uint32_t rule, void *arg)
{
    struct out *o = arg;
    o->counts[rule]++;
}

static int emit_alert(const struct wk_alert *a, void *arg)
{
    char *j = NULL;
    size_t len = 0;
    int rc = wk_alert_to_json(a, &j, &len);
    if (rc == 0)
        rc = emit(j, len, arg);
    free(j);
    return rc;
}

static void progress(uint64_t done, uint64_t total, void *arg)
{
    (void)arg;
    int pct = total ? (int)(done * 100 / total) : 100;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\rhunt [%s] %3d%% %llu/%llu blocks", bar, pct, (unsigned long long)done,
            (unsigned long long)total);
    if (done == total)
        fputc('\n', stderr);
}

struct src {
    const char *store, *input;
    int64_t since, until;
    unsigned threads;
    bool no_block_prefilter, stats;
};

/* Run rs over the source; alerts to o. @return alerts (>= 0) or an exit code (negative). */
static long run(struct wk_ruleset *rs, const struct src *s, struct out *o)
{
    if (s->store) {
        struct wk_store_opts so;
        wk_store_opts_init(&so);
        so.read_only = true;
        struct wk_store *st = NULL;
        int rc = wk_store_open(&st, s->store, &so);
        if (rc < 0) {
            wk_cli_error("hunt", "%s: %s", s->store, wk_strerror(rc));
            return -WK_EXIT_RUNTIME;
        }
        struct wk_hunt_opts ho = { s->since, s->until, s->threads, NULL, NULL,
                                   s->no_block_prefilter, NULL };
        if (o->count) {
            o->counts = calloc(wk_ruleset_nrules(rs) + 1, sizeof(*o->counts));
            if (!o->counts) {
                wk_store_close(st);
                wk_cli_error("hunt", "out of memory");
                return -WK_EXIT_RUNTIME;
            }
            ho.count = count_alert;
        }
        if (isatty(STDERR_FILENO))
            ho.progress = progress;
        struct wk_hunt_stats hs = { 0 };
        rc = wk_hunt_store(st, rs, &ho, emit, o, &hs);
        wk_store_close(st);
        if (rc < 0) {
            char why[256]; /* WK_EREBUILD: which value, module and versions */
            wk_cli_error("hunt", "%s: %s", s->store,
                         rc == WK_EREBUILD ? wk_store_rebuild_why(why, sizeof(why))
                                           : wk_strerror(rc));
            return -WK_EXIT_RUNTIME;
        }
        for (size_t i = 0; o->counts && i < wk_ruleset_nrules(rs); i++) {
            const struct wk_rule_info *r = wk_ruleset_rule(rs, i);
            if (o->counts[i])
                printf("%llu %s %s\n", (unsigned long long)o->counts[i],
                       r->id ? r->id : r->name ? r->name : "-", r->title ? r->title : "");
        }
        free(o->counts);
        o->counts = NULL;
        if (s->stats)
            fprintf(stderr,
                    "hunt: %llu blocks, %llu events evaluated, block prefilter %s: %llu events "
                    "(%llu whole blocks) skipped undecoded, %llu alerts\n",
                    (unsigned long long)hs.blocks, (unsigned long long)hs.events,
                    hs.block_prefilter ? "on" : "off", (unsigned long long)hs.skipped_events,
                    (unsigned long long)hs.skipped_blocks, (unsigned long long)hs.alerts);
        return (long)hs.alerts;
    }
    struct wk_event **evs = NULL;
    long n = wk_events_read("hunt", s->input, &evs);
    if (n < 0)
        return -WK_EXIT_RUNTIME;
    struct wk_rule_scratch *sc = NULL;
    long alerts = 0;
    int rc = wk_rule_scratch_new(&sc, rs, NULL);
    for (long i = 0; rc >= 0 && i < n; i++) {
        int64_t ts = wk_event_ts(evs[i]);
        if ((s->since && ts < s->since) || (s->until && ts > s->until))
            continue;
        rc = wk_ruleset_eval_ref(rs, sc, evs[i], (uint64_t)i + 1, emit_alert, o);
        if (rc > 0)
            alerts += rc;
    }
    if (rc >= 0) {
        rc = wk_rule_scratch_flush(sc, emit_alert, o);
        if (rc > 0)
            alerts += rc;
    }
    wk_rule_scratch_free(sc);
    for (long i = 0; i < n; i++)
        wk_event_free(evs[i]);
    free(evs);
    if (rc < 0) {
        wk_cli_error("hunt", "%s", wk_strerror(rc));
        return -WK_EXIT_RUNTIME;
    }
    return alerts;
}

/* Identity of an alert for --compare: rule, time, evidence, group. */
static char *alert_key(const char *json)
{
    json_t *a = json_loads(json, 0, NULL);
    json_t *r = json_object_get(a, "rule");
    const char *id = json_string_value(json_object_get(r, "id"));
    char *g = json_object_get(a, "group") ? json_dumps(json_object_get(a, "group"),
                                                        JSON_COMPACT | JSON_SORT_KEYS)
                                          : NULL;
    char *k = NULL;
    if (asprintf(&k, "%s\t%s\t%lld\t%lld\t%s\t%s",
                 or_str(json_string_value(json_object_get(a, "@timestamp")), ""),
                 id ? id : or_str(json_string_value(json_object_get(r, "title")), "?"),
                 (long long)json_integer_value(json_object_get(a, "ref")),
                 (long long)json_integer_value(json_object_get(a, "record")), g ? g : "",
                 or_str(json_string_value(json_object_get(r, "title")), "")) < 0)
        k = NULL;
    free(g);
    json_decref(a);
    return k;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void out_fini(struct out *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i]);
    free(o->v);
}

static int compare(struct wk_ruleset *a, struct wk_ruleset *b, const struct src *s)
{
    struct out oa = { .collect = true }, ob = { .collect = true };
    long ra = run(a, s, &oa), rb = ra < 0 ? ra : run(b, s, &ob);
    int code = WK_EXIT_OK;
    if (ra < 0 || rb < 0) {
        code = -(int)(ra < 0 ? ra : rb);
        goto out;
    }
    for (size_t i = 0; i < oa.n; i++) {
        char *k = alert_key(oa.v[i]);
        free(oa.v[i]);
        oa.v[i] = k ? k : strdup("");
    }
    for (size_t i = 0; i < ob.n; i++) {
        char *k = alert_key(ob.v[i]);
        free(ob.v[i]);
        ob.v[i] = k ? k : strdup("");
    }
    qsort(oa.v, oa.n, sizeof(char *), cmpstr);
    qsort(ob.v, ob.n, sizeof(char *), cmpstr);
    size_t i = 0, j = 0, added = 0, removed = 0, same = 0;
    while (i < oa.n || j < ob.n) {
        int c = i == oa.n ? 1 : j == ob.n ? -1 : strcmp(oa.v[i], ob.v[j]);
        if (c == 0) {
            same++, i++, j++;
        } else if (c < 0) {
            printf("- %s\n", oa.v[i++]);
            removed++;
        } else {
            printf("+ %s\n", ob.v[j++]);
            added++;
        }
    }
    printf("%zu added, %zu removed, %zu unchanged\n", added, removed, same);
    code = added || removed ? WK_EXIT_FOUND : WK_EXIT_OK;
out:
    out_fini(&oa);
    out_fini(&ob);
    return code;
}

int wk_cmd_hunt(int argc, char **argv)
{
    char *rules[64];
    int nrules = 0;
    struct src s = { 0 };
    struct wk_rules_opts ro = { 0 };
    bool cmp = false;
    struct out o = { 0 };
    optind = 1;
    opterr = 0;
    int c;
    int64_t now = wk_time_now_ns();
    while ((c = getopt_long(argc, argv, "r:s:i:f:j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (nrules == 64) {
                wk_cli_error("hunt", "too many --rules");
                return WK_EXIT_USAGE;
            }
            rules[nrules++] = optarg;
            break;
        case 's': s.store = optarg; break;
        case 'i': s.input = optarg; break;
        case O_SINCE:
        case O_UNTIL:
            if (wk_time_parse_user(optarg, now, c == O_SINCE ? &s.since : &s.until) < 0) {
                wk_cli_error("hunt", "bad time '%s' (RFC 3339 or 30m, 2h, 7d)", optarg);
                return WK_EXIT_USAGE;
            }
            break;
        case 'f':
            if (!strcmp(optarg, "text"))
                o.text = true;
            else if (!strcmp(optarg, "count"))
                o.count = true;
            else if (strcmp(optarg, "jsonl")) {
                wk_cli_error("hunt", "unknown format '%s' (jsonl, text, count)", optarg);
                return WK_EXIT_USAGE;
            }
            break;
        case 'j': s.threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case O_COMPARE: cmp = true; break;
        case O_LS: ro.logsources = optarg; break;
        case O_PH: ro.placeholders = optarg; break;
        case O_NOPF: ro.no_prefilter = true; break;
        case O_NOBPF: s.no_block_prefilter = true; break;
        case O_STATS: s.stats = true; break;
        case 'h': fputs(wk_cmd_hunt_usage, stdout); return WK_EXIT_OK;
        default:
            wk_cli_error("hunt", "unknown or incomplete option '%s'", argv[optind - 1]);
            return WK_EXIT_USAGE;
        }
    }
    if (!!s.store == !!s.input) {
        wk_cli_error("hunt", "give exactly one of --store DIR or --input FILE");
        return WK_EXIT_USAGE;
    }
    if (o.count && (!s.store || cmp)) {
        wk_cli_error("hunt", "--format count needs --store (and no --compare)");
        return WK_EXIT_USAGE;
    }
    if (cmp) {
        if (argc - optind != 2 || nrules) {
            wk_cli_error("hunt", "--compare takes OLD and NEW rule paths (and no --rules)");
            return WK_EXIT_USAGE;
        }
        struct wk_ruleset *a = NULL, *b = NULL;
        size_t nra = 0, nrb = 0;
        if (wk_rules_load("hunt", &ro, &argv[optind], 1, stderr, &nra, &a) < 0)
            return WK_EXIT_RUNTIME;
        if (wk_rules_load("hunt", &ro, &argv[optind + 1], 1, stderr, &nrb, &b) < 0) {
            wk_ruleset_unref(a);
            return WK_EXIT_RUNTIME;
        }
        int code = compare(a, b, &s);
        wk_ruleset_unref(a);
        wk_ruleset_unref(b);
        return code;
    }
    if (!nrules || optind != argc) {
        wk_cli_error("hunt", nrules ? "unexpected argument '%s'" : "--rules PATH is required",
                     nrules ? argv[optind] : "");
        return WK_EXIT_USAGE;
    }
    struct wk_ruleset *rs = NULL;
    size_t nrej = 0;
    if (wk_rules_load("hunt", &ro, rules, nrules, stderr, &nrej, &rs) < 0)
        return WK_EXIT_RUNTIME;
    if (nrej)
        wk_cli_error("hunt", "%zu rule(s) rejected (listed above); hunting with the others",
                     nrej);
    long n = run(rs, &s, &o);
    wk_ruleset_unref(rs);
    if (n < 0)
        return (int)-n;
    return n > 0 ? WK_EXIT_FOUND : WK_EXIT_OK;
}
