/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rule engine benchmark (one core): the corpus SigmaHQ rules + the default pack on
 * realistic events (bench/gen_events), side by side with a naive engine that runs every
 * pattern of every rule through pcre2 JIT on every event; rules actually evaluated per
 * event; compile time and throughput of a generated 1,000-rule set; pcre2 JIT vs the
 * interpreter on the pack. usage: rules_bench SRCDIR CORPUS EVENTS.jsonl [N]
 */
#include "config.h"

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../analyzer/sigma_private.h"
#include "watchkeeper/rule.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: the machine may be shared, and events/s "on one core" is work
 * per CPU second (wall time also counts the time other processes had the core). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Time spent in a timed section: CPU and wall seconds. */
struct tm2 {
    double cpu, wall;
};
#define TM_START(t0) double t0##c = cpu_s(), t0##w = now_s()
#define TM_ADD(acc, t0) ((acc).cpu += cpu_s() - t0##c, (acc).wall += now_s() - t0##w)

static struct wk_event **load_events(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(3);
    }
    struct wk_event **v = NULL;
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    *n = 0;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof(*v));
        }
        if (wk_event_new(&v[*n]) < 0 || wk_event_from_json(v[*n], line, (size_t)len, NULL) < 0) {
            wk_event_free(v[*n]);
            continue;
        }
        (*n)++;
    }
    free(line);
    fclose(f);
    return v;
}

static bool use_prefilter = true;

static struct wk_ruleset *load(const char *src, const char *const *paths, size_t *nrej)
{
    char p[4096];
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    wk_rule_loader_new(&l);
    snprintf(p, sizeof(p), "%s/rules/logsources.yaml", src);
    wk_rule_loader_logsources(l, p);
    snprintf(p, sizeof(p), "%s/rules/placeholders.yaml", src);
    wk_rule_loader_placeholders(l, p);
    for (size_t i = 0; paths[i]; i++)
        wk_rule_loader_add(l, paths[i]);
    wk_rule_loader_set_prefilter(l, use_prefilter);
    if (wk_rule_loader_build(l, &rs) < 0)
        exit(3);
    *nrej = wk_rule_loader_nrejects(l);
    wk_rule_loader_free(l);
    return rs;
}

/* A fingerprint of every alert (evaluation number, rule, record, value): two engines that
 * agree on it raised the same alerts on the same events. */
struct fp {
    uint64_t i, h;
};

static int fp_cb(const struct wk_alert *a, void *data)
{
    struct fp *f = data;
    uint64_t x[4] = { f->i, a->rule, a->record, (uint64_t)a->value };
    for (int k = 0; k < 4; k++)
        f->h = (f->h ^ x[k]) * 0x100000001b3ULL;
    return 0;
}

/* Events as live evaluation sees them: the pipeline evaluates each batch of events its
 * parsers have just built (pipeline.batch_events, 4096 by default), so they are recent in
 * the caches. With batch > 0 each batch is first rebuilt into reused events (wk_event_copy,
 * untimed), then evaluated (timed); with batch 0 the prebuilt events are evaluated in turn,
 * each one cold (50,000 distinct events are ~300 MB). */
struct feed {
    struct wk_event **ev, **w;
    size_t nev, batch;
};

static void feed_init(struct feed *f, struct wk_event **ev, size_t nev, size_t batch)
{
    f->ev = ev, f->nev = nev, f->batch = batch, f->w = NULL;
    if (!batch)
        return;
    f->w = calloc(batch, sizeof(*f->w));
    for (size_t j = 0; j < batch; j++)
        if (wk_event_new(&f->w[j]) < 0)
            exit(3);
}

/* The events i..i+m of the run (m <= batch): rebuilt when batching. */
static void feed_fill(struct feed *f, size_t i, size_t m)
{
    for (size_t j = 0; f->batch && j < m; j++)
        if (wk_event_copy(f->w[j], f->ev[(i + j) % f->nev]) < 0)
            exit(3);
}

static const struct wk_event *feed_get(const struct feed *f, size_t i, size_t j)
{
    return f->batch ? f->w[j] : f->ev[(i + j) % f->nev];
}

static void feed_fini(struct feed *f)
{
    for (size_t j = 0; f->batch && j < f->batch; j++)
        wk_event_free(f->w[j]);
    free(f->w);
}

/* The engine on n events: events/s per CPU second (wall: *wall_rate). */
static __attribute__((noinline)) double run_engine(struct wk_ruleset *rs, struct wk_event **ev,
                                                   size_t nev, size_t n, size_t batch,
                                                   struct wk_rule_stats *st, uint64_t *fph)
{
    struct wk_rule_scratch *sc = NULL;
    struct fp f = { 0, 14695981039346656037ULL };
    struct feed fd;
    feed_init(&fd, ev, nev, batch);
    wk_rule_scratch_new(&sc, rs, NULL);
    struct tm2 t = { 0, 0 };
    for (size_t i = 0; i < n;) {
        size_t m = batch ? (n - i < batch ? n - i : batch) : n;
        feed_fill(&fd, i, m);
        TM_START(t0);
        for (size_t j = 0; j < m; j++) {
            f.i = i + j;
            (void)wk_ruleset_eval(rs, sc, feed_get(&fd, i, j), fp_cb, &f);
        }
        TM_ADD(t, t0);
        i += m;
    }
    wk_rule_scratch_stats(sc, st);
    wk_rule_scratch_free(sc);
    feed_fini(&fd);
    if (fph)
        *fph = f.h;
    return (double)n / t.cpu;
}

/* ---- the naive engine: every pattern as a pcre2 JIT regex on every event -------------- */
struct npat {
    struct wk_key key; /* name NULL: keyword, matched on event.original */
    pcre2_code *re;
};

static void re_escape(char *out, size_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr("\\^$.|?*+()[]{}", s[i]))
            out[(*o)++] = '\\';
        out[(*o)++] = s[i];
    }
}

static pcre2_code *naive_re(const struct sg_matcher *m)
{
    char buf[16384];
    size_t o = 0;
    uint32_t flags = m->cased ? 0 : PCRE2_CASELESS;
    switch (m->kind) {
    case SG_MK_EQ:
    case SG_MK_PREFIX:
    case SG_MK_SUFFIX:
    case SG_MK_CONTAINS:
        if (m->len * 2 + 8 > sizeof(buf))
            return NULL;
        if (m->kind == SG_MK_EQ || m->kind == SG_MK_PREFIX)
            buf[o++] = '^';
        re_escape(buf, &o, m->lit, m->len);
        if (m->kind == SG_MK_EQ || m->kind == SG_MK_SUFFIX)
            buf[o++] = '$';
        break;
    case SG_MK_GLOB:
        buf[o++] = '^';
        for (size_t i = 0; i < m->ntoks && o + 2 * m->toks[i].len + 16 < sizeof(buf); i++) {
            const struct sg_gtok_s *t = &m->toks[i];
            if (t->kind == SG_G_LIT)
                re_escape(buf, &o, t->s, t->len);
            else if (t->kind == SG_G_STAR)
                buf[o++] = '.', buf[o++] = '*';
            else if (t->kind == SG_G_ONE)
                buf[o++] = '.';
            else
                memcpy(buf + o, "[-/]", 4), o += 4;
        }
        buf[o++] = '$';
        break;
    default:
        return NULL;
    }
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)buf, o, flags | PCRE2_DOTALL, &ec, &eo, NULL);
    if (re)
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static struct npat *naive_build(struct wk_ruleset *rs, size_t *np)
{
    struct npat *v = NULL;
    size_t n = 0, cap = 0;
    for (size_t r = 0; r < rs->rules.n; r++) {
        struct sg_rule *rule = rs->rules.v[r];
        for (size_t s = 0; s < rule->sels.n; s++)
            for (size_t a = 0; a < rule->sels.v[s].alts.n; a++)
                for (size_t i = 0; i < rule->sels.v[s].alts.v[a].items.n; i++) {
                    struct sg_item *it = &rule->sels.v[s].alts.v[a].items.v[i];
                    for (size_t k = 0; k < it->m.n; k++) {
                        pcre2_code *re = it->m.v[k].kind == SG_MK_RE ? NULL : naive_re(&it->m.v[k]);
                        if (it->m.v[k].kind == SG_MK_RE) {
                            /* the rule's own regex, compiled again for the naive engine */
                            re = it->m.v[k].re;
                        }
                        if (!re)
                            continue;
                        if (n == cap) {
                            cap = cap ? cap * 2 : 256;
                            v = realloc(v, cap * sizeof(*v));
                        }
                        v[n].key = it->field ? it->key : (struct wk_key){ 0 };
                        v[n].re = re;
                        n++;
                    }
                }
    }
    *np = n;
    return v;
}

static __attribute__((noinline)) void naive_eval(const struct npat *p, size_t np,
                                                 const struct wk_event *e,
                                                 pcre2_match_data *md, unsigned long *hits)
{
    wk_event_prefetch(e); /* as the engine does: both hide the misses of a cold event */
    unsigned nrec = wk_event_nrecords(e);
    for (size_t k = 0; k < np; k++) {
        for (unsigned rec = 0; rec <= nrec; rec++) {
            const struct wk_value *v =
                p[k].key.name ? wk_event_get(e, rec, &p[k].key)
                              : (rec ? NULL : wk_event_get(e, 0, &WK_KEY_EVENT_ORIGINAL));
            if (!v || v->kind != WK_VAL_STR)
                continue;
            if (pcre2_match(p[k].re, (PCRE2_SPTR)v->u.s, v->len, 0, 0, md, NULL) >= 0)
                (*hits)++;
        }
    }
}

/* The engine and the naive engine interleaved, batch by batch, so that both see the same
 * machine (the load of a shared machine changes by the second): the engine on every event,
 * the naive engine on every `every`-th (it is two orders of magnitude slower). */
struct pair {
    struct tm2 eng, nai;
    size_t neng, nnai;
    struct wk_rule_stats st;
    uint64_t fp;
    unsigned long hits;
};

static void run_pair(struct wk_ruleset *rs, const struct npat *p, size_t np,
                     struct wk_event **ev, size_t nev, size_t n, size_t batch, size_t every,
                     struct pair *out)
{
    struct wk_rule_scratch *sc = NULL;
    struct fp f = { 0, 14695981039346656037ULL };
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    struct feed fd;
    feed_init(&fd, ev, nev, batch);
    wk_rule_scratch_new(&sc, rs, NULL);
    memset(out, 0, sizeof(*out));
    const size_t seg = batch ? batch : 4096; /* cold: interleave in segments all the same */
    for (size_t i = 0; i < n;) {
        size_t m = n - i < seg ? n - i : seg;
        feed_fill(&fd, i, m);
        TM_START(t0);
        for (size_t j = 0; j < m; j++) {
            f.i = i + j;
            (void)wk_ruleset_eval(rs, sc, feed_get(&fd, i, j), fp_cb, &f);
        }
        TM_ADD(out->eng, t0);
        out->neng += m;
        if (batch)
            feed_fill(&fd, i, m); /* the naive engine too gets just-built events */
        TM_START(t1);
        for (size_t j = 0; j < m; j++)
            if ((i + j) % every == 0) {
                naive_eval(p, np, feed_get(&fd, i, j), md, &out->hits);
                out->nnai++;
            }
        TM_ADD(out->nai, t1);
        i += m;
    }
    wk_rule_scratch_stats(sc, &out->st);
    out->fp = f.h;
    wk_rule_scratch_free(sc);
    feed_fini(&fd);
    pcre2_match_data_free(md);
}

/* The naive engine alone (profiling). */
static __attribute__((noinline)) double run_naive(const struct npat *p, size_t np,
                                                  struct wk_event **ev, size_t nev, size_t n,
                                                  unsigned long *hits)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    double t0 = cpu_s();
    for (size_t i = 0; i < n; i++)
        naive_eval(p, np, ev[i % nev], md, hits);
    double t = cpu_s() - t0;
    pcre2_match_data_free(md);
    return (double)n / t;
}

/* ---- a generated 1,000-rule set ---------------------------------------------------------- */
static const char *tools[] = { "nc", "ncat", "socat", "curl", "wget", "python", "perl", "ruby",
                               "php", "nmap", "masscan", "tcpdump", "gdb", "strace", "insmod",
                               "modprobe", "chattr", "setcap", "base64", "xxd" };

static void gen_rules(const char *dir, int n)
{
    mkdir(dir, 0700);
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/r%04d.yml", dir, i);
        FILE *f = fopen(p, "w");
        const char *t = tools[i % 20];
        fprintf(f, "title: generated %d\nid: 00000000-0000-4000-8000-%012d\nlevel: low\n"
                   "tags: [attack.execution, attack.t1059]\n", i, i);
        switch (i % 4) {
        case 0: /* auditd EXECVE */
            fprintf(f, "logsource: {product: linux, service: auditd}\ndetection:\n  sel:\n"
                       "    type: EXECVE\n    a0|endswith: '/%s%d'\n    a1|contains:\n"
                       "      - '--opt-%d'\n      - '-x%d'\n  condition: sel\n",
                    t, i, i, i);
            break;
        case 1: /* auditd SYSCALL / PATH */
            fprintf(f, "logsource: {product: linux, service: auditd}\ndetection:\n  sel:\n"
                       "    type: PATH\n    name|startswith: '/opt/app%d/'\n  flt:\n"
                       "    name|endswith: '.log'\n  condition: sel and not flt\n",
                    i);
            break;
        case 2: /* docker events */
            fprintf(f, "logsource: {product: docker, service: events}\ndetection:\n  sel:\n"
                       "    event.action: [start, exec_start]\n"
                       "    container.image.name|startswith: 'registry%d.example/'\n"
                       "  condition: sel\n",
                    i);
            break;
        default: /* container logs: 3 in 100 rules are regexes (97% literals) */
            if (i % 100 < 3)
                fprintf(f, "logsource: {product: docker, service: container_logs}\n"
                           "detection:\n  sel:\n    message|re: 'err(or)?-%d: [a-z]+ failed'\n"
                           "  condition: sel\n",
                        i);
            else
                fprintf(f, "logsource: {product: docker, service: container_logs}\n"
                           "detection:\n  sel:\n    message|contains|all:\n"
                           "      - 'code=%d '\n      - '%s'\n  condition: sel\n",
                        i, t);
            break;
        }
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: rules_bench SRCDIR CORPUS EVENTS.jsonl [N]\n");
        return 2;
    }
    wk_keys_init();
    const char *src = argv[1], *corpus = argv[2];
    size_t n = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000000;
    size_t nev;
    struct wk_event **ev = load_events(argv[3], &nev);
    if (!nev)
        return 3;
    char c1[4096], c2[4096], c3[4096], pack[4096];
    snprintf(c1, sizeof(c1), "%s/sigma/rules", corpus);
    snprintf(c2, sizeof(c2), "%s/sigma/deprecated", corpus);
    snprintf(c3, sizeof(c3), "%s/sigma/rules-emerging-threats", corpus);
    snprintf(pack, sizeof(pack), "%s/rules", src);
    size_t nrej;
    double t0 = now_s(), c0 = cpu_s();
    struct wk_ruleset *rs = load(src, (const char *const[]){ c1, c2, c3, pack, NULL }, &nrej);
    double tload = now_s() - t0, cload = cpu_s() - c0;
    printf("rules: %zu loaded (corpus + pack), %zu rejected, load+compile %.1f ms CPU (%.1f ms "
           "wall)\n",
           wk_ruleset_nrules(rs), nrej, cload * 1e3, tload * 1e3);
    printf("events: %zu distinct (gen_events), %zu evaluations\n", nev, n);
    struct wk_rule_stats st;
    uint64_t fp1 = 0, fp2 = 0;
    size_t np;
    struct npat *p = NULL;
    unsigned long hits = 0;
    const char *bs = getenv("WK_BENCH_BATCH");
    size_t batch = bs ? strtoul(bs, NULL, 10) : 4096;
    if (getenv("WK_BENCH_NAIVE_ONLY")) { /* for profiling the naive engine alone */
        p = naive_build(rs, &np);
        double nai = run_naive(p, np, ev, nev, n, &hits);
        printf("naive:  %.0f events/s on one core (%zu patterns)\n", nai, np);
        return 0;
    }
    if (getenv("WK_BENCH_ENGINE_ONLY")) { /* for profiling the engine alone */
        double eng = run_engine(rs, ev, nev, n, batch, &st, &fp1);
        printf("engine: %.0f events/s on one core, %.2f rule evaluations per event, %llu "
               "alerts (fingerprint %016llx)\n",
               eng, (double)st.rule_evals / (double)st.events, (unsigned long long)st.alerts,
               (unsigned long long)fp1);
        return 0;
    }
    p = naive_build(rs, &np);
    printf("naive engine: %zu patterns, each pcre2 JIT on every event; it runs on every 10th "
           "event, interleaved batch by batch with the engine; rates are per CPU second "
           "(wall in parentheses)\n",
           np);
    struct pair live, cold;
    run_pair(rs, p, np, ev, nev, n, batch, 10, &live);
    run_pair(rs, p, np, ev, nev, n, 0, 10, &cold);
    st = live.st;
    for (int k = 0; k < 2; k++) {
        const struct pair *q = k ? &cold : &live;
        double e = (double)q->neng / q->eng.cpu, nv = (double)q->nnai / q->nai.cpu;
        printf("%s: engine %.0f events/s (%.0f), naive %.0f events/s (%.0f): engine / naive "
               "= %.1fx (wall %.1fx)\n",
               k ? "cold (prebuilt events in turn, each cold in the caches)"
                 : "live (batches of just-built events)",
               e, (double)q->neng / q->eng.wall, nv, (double)q->nnai / q->nai.wall, e / nv,
               ((double)q->neng / q->eng.wall) / ((double)q->nnai / q->nai.wall));
    }
    printf("engine: %.2f rule evaluations per event, %llu alerts (prefilter: %s; cold run: "
           "%s)\n",
           (double)st.rule_evals / (double)st.events, (unsigned long long)st.alerts,
           wk_ruleset_has_prefilter(rs) ? "hyperscan" : "none",
           live.fp == cold.fp && live.st.alerts == cold.st.alerts ? "the same alerts"
                                                                  : "ALERTS DIFFER");
    fp1 = live.fp;
    {
        use_prefilter = false;
        struct wk_ruleset *r2 = load(src, (const char *const[]){ c1, c2, c3, pack, NULL }, &nrej);
        struct wk_rule_stats st2;
        double e2 = run_engine(r2, ev, nev, n, batch, &st2, &fp2);
        printf("engine without prefilter (index only): %.0f events/s, %.2f rule evaluations "
               "per event, %llu alerts (%s)\n",
               e2, (double)st2.rule_evals / (double)st2.events,
               (unsigned long long)st2.alerts,
               fp1 == fp2 && st.alerts == st2.alerts ? "the same alerts as with it"
                                                     : "ALERTS DIFFER FROM THE PREFILTER'S");
        wk_ruleset_unref(r2);
        use_prefilter = true;
    }
    /* free only the naive engine's own codes (the `re` ones belong to the ruleset) */
    for (size_t i = 0; i < np; i++) {
        bool shared = false;
        for (size_t r = 0; !shared && r < rs->rules.n; r++) {
            struct sg_rule *rule = rs->rules.v[r];
            for (size_t s = 0; !shared && s < rule->sels.n; s++)
                for (size_t a = 0; !shared && a < rule->sels.v[s].alts.n; a++)
                    for (size_t k = 0; !shared && k < rule->sels.v[s].alts.v[a].items.n; k++) {
                        struct sg_item *it = &rule->sels.v[s].alts.v[a].items.v[k];
                        for (size_t m = 0; m < it->m.n; m++)
                            shared = shared || it->m.v[m].re == p[i].re;
                    }
        }
        if (!shared)
            pcre2_code_free(p[i].re);
    }
    free(p);
    wk_ruleset_unref(rs);

    /* 1,000 generated rules */
    char dir[] = "/tmp/wk-rules-bench-XXXXXX";
    if (!mkdtemp(dir))
        return 3;
    gen_rules(dir, 1000);
    t0 = now_s(), c0 = cpu_s();
    rs = load(src, (const char *const[]){ dir, NULL }, &nrej);
    double tc = now_s() - t0, cc = cpu_s() - c0;
    printf("1000-rule set: %zu loaded, %zu rejected, load+compile %.1f ms CPU (%.1f ms wall)\n",
           wk_ruleset_nrules(rs), nrej, cc * 1e3, tc * 1e3);
    double eng = run_engine(rs, ev, nev, n, batch, &st, NULL);
    double engc = run_engine(rs, ev, nev, n, 0, &st, NULL);
    printf("1000-rule set: %.0f events/s on one core as live, %.0f cold, %.2f rule evaluations "
           "per event\n",
           eng, engc, (double)st.rule_evals / (double)st.events);
    wk_ruleset_unref(rs);
    use_prefilter = false;
    rs = load(src, (const char *const[]){ dir, NULL }, &nrej);
    eng = run_engine(rs, ev, nev, n, batch, &st, NULL);
    printf("1000-rule set without prefilter: %.0f events/s, %.2f rule evaluations per event\n",
           eng, (double)st.rule_evals / (double)st.events);
    wk_ruleset_unref(rs);
    use_prefilter = true;
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);

    /* pcre2 JIT vs interpreter on the pack's regex rule, on container log events */
    size_t nclog = 0;
    struct wk_event **clog = malloc(nev * sizeof(*clog));
    for (size_t i = 0; i < nev; i++) {
        const char *m = wk_event_get_str(ev[i], &WK_KEY_EVENT_MODULE, NULL);
        if (m && !strcmp(m, "clog"))
            clog[nclog++] = ev[i];
    }
    if (nclog) {
        use_prefilter = false; /* every regex runs: what JIT changes */
        rs = load(src, (const char *const[]){ pack, NULL }, &nrej);
        double jit = run_engine(rs, clog, nclog, n / 2, batch, &st, NULL);
        wk_ruleset_unref(rs);
        wk__sg_no_jit = true;
        rs = load(src, (const char *const[]){ pack, NULL }, &nrej);
        double interp = run_engine(rs, clog, nclog, n / 2, batch, &st, NULL);
        wk_ruleset_unref(rs);
        wk__sg_no_jit = false;
        use_prefilter = true;
        printf("pack on container logs: pcre2 JIT %.0f events/s, interpreter %.0f events/s "
               "(%.1fx)\n",
               jit, interp, jit / interp);
    }
    free(clog);
    for (size_t i = 0; i < nev; i++)
        wk_event_free(ev[i]);
    free(ev);
    return 0;
}
