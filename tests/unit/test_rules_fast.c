/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The evaluator's fast paths (field lookups by key id from one pass over the event, the
 * per-record and per-event memos, Hyperscan skipped on values shorter than a field's
 * shortest literal) against the plain path (wk_event_get_ctx per condition, every value
 * scanned): the same alerts, byte for byte, on every event the auditd parser makes of the
 * corpus logs and on random events built from the rules' own field names and literals.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../analyzer/sigma_private.h"
#include "auditd_util.h"
#include "rules_util.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/rule.h"
#include "wk_test.h"

struct out {
    char **v;
    size_t n;
};

static int collect(const struct wk_alert *a, void *data)
{
    struct out *o = data;
    char *s = NULL;
    WK_ASSERT_OK(wk_alert_to_json(a, &s, NULL));
    o->v = realloc(o->v, (o->n + 1) * sizeof(*o->v));
    o->v[o->n++] = s;
    return 0;
}

static void out_free(struct out *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i]);
    free(o->v);
    memset(o, 0, sizeof(*o));
}

/* Two scratches of one ruleset, fast and plain, a third one of the same rules built
 * without the prefilter (every rule of a bucket evaluated), and what they found so far. */
struct pair {
    struct wk_ruleset *rs, *rs_nopf;
    struct wk_rule_scratch *fast, *plain, *nopf;
    size_t events, alerts;
};

static void pair_init(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    p->rs = rules_pack_and_corpus(au_corpus(), true); /* as the daemon bench loads them */
    p->rs_nopf = rules_pack_and_corpus(au_corpus(), false);
    WK_ASSERT_OK(wk_rule_scratch_new(&p->fast, p->rs, NULL));
    WK_ASSERT_OK(wk_rule_scratch_new(&p->plain, p->rs, NULL));
    WK_ASSERT_OK(wk_rule_scratch_new(&p->nopf, p->rs_nopf, NULL));
}

static void pair_fini(struct pair *p)
{
    wk_rule_scratch_free(p->fast);
    wk_rule_scratch_free(p->plain);
    wk_rule_scratch_free(p->nopf);
    wk_ruleset_unref(p->rs);
    wk_ruleset_unref(p->rs_nopf);
}

/* Write yaml to the test's tmp dir as name, load it (nrules rules, none rejected) with the
 * project's logsources, and open both scratches of p on it. */
static void pair_from_yaml(struct pair *p, const char *name, const char *yaml, int nrules)
{
    char path[4096], ls[4096];
    snprintf(path, sizeof(path), "%s/%s", wk_test_tmpdir(), name);
    snprintf(ls, sizeof(ls), "%s/rules/logsources.yaml", wk_test_srcdir());
    FILE *f = fopen(path, "w");
    WK_ASSERT(f != NULL);
    fputs(yaml, f);
    fclose(f);
    memset(p, 0, sizeof(*p));
    for (int pf = 1; pf >= 0; pf--) {
        struct wk_rule_loader *l = NULL;
        WK_ASSERT_OK(wk_rule_loader_new(&l));
        WK_ASSERT_OK(wk_rule_loader_logsources(l, ls));
        WK_ASSERT_INT_EQ(wk_rule_loader_add(l, path), nrules);
        wk_rule_loader_set_prefilter(l, pf);
        WK_ASSERT_OK(wk_rule_loader_build(l, pf ? &p->rs : &p->rs_nopf));
        WK_ASSERT_UINT_EQ(wk_rule_loader_nrejects(l), 0);
        wk_rule_loader_free(l);
    }
    WK_ASSERT_OK(wk_rule_scratch_new(&p->fast, p->rs, NULL));
    WK_ASSERT_OK(wk_rule_scratch_new(&p->plain, p->rs, NULL));
    WK_ASSERT_OK(wk_rule_scratch_new(&p->nopf, p->rs_nopf, NULL));
}

/* Evaluate ev the three ways: the same alerts (JSON text), in the same order. */
static void pair_eval(struct pair *p, const struct wk_event *ev)
{
    struct out a = { 0 }, b = { 0 }, c = { 0 };
    wk__sg_plain_lookups = false;
    int na = wk_ruleset_eval(p->rs, p->fast, ev, collect, &a);
    int nc = wk_ruleset_eval(p->rs_nopf, p->nopf, ev, collect, &c);
    wk__sg_plain_lookups = true;
    int nb = wk_ruleset_eval(p->rs, p->plain, ev, collect, &b);
    wk__sg_plain_lookups = false;
    WK_ASSERT_INT_EQ(na, nb);
    WK_ASSERT_INT_EQ(na, nc);
    WK_ASSERT_UINT_EQ(a.n, b.n);
    WK_ASSERT_UINT_EQ(a.n, c.n);
    for (size_t i = 0; i < a.n; i++) {
        WK_ASSERT_STR_EQ(a.v[i], b.v[i]);
        WK_ASSERT_STR_EQ(a.v[i], c.v[i]);
    }
    p->events++;
    p->alerts += a.n;
    out_free(&a);
    out_free(&b);
    out_free(&c);
}

struct sink {
    struct wk_parser_sink s;
    struct pair *p;
};

static int sink_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)resume;
    pair_eval(((struct sink *)s)->p, ev);
    return 0;
}

static void feed_dir(struct sink *sk, const char *dir)
{
    DIR *d = opendir(dir);
    WK_ASSERT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[8192];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            feed_dir(sk, path);
            continue;
        }
        size_t n = strlen(e->d_name);
        if (n < 4 || (strcmp(e->d_name + n - 4, ".log") && strcmp(e->d_name + n - 4, ".txt")))
            continue;
        size_t len = 0;
        char *buf = wk_test_read_file(path, &len);
        au_feed(&sk->s, path, buf, len);
        free(buf);
    }
    closedir(d);
}

WK_TEST(fast_lookups_same_alerts_on_corpus_logs)
{
    /* every auditd log of the corpus (.log, and laurel's and wazuh's .txt records), through
     * the auditd parser as the daemon reads it; lines it rejects are skipped */
    struct pair p;
    pair_init(&p);
    struct sink sk = { { .emit = sink_emit, .reject = au_sink_reject_none }, &p };
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/auditd", au_corpus());
    feed_dir(&sk, dir);
    /* a comparison of nothing would prove nothing */
    WK_ASSERT(p.events >= 300); /* 400 and 13 alerts today */
    WK_ASSERT(p.alerts >= 10);
    pair_fini(&p);
}

/* ---- random events from the rules' own names and values ------------------------------ */
static uint64_t rnd_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return n ? (uint32_t)(rnd_state % n) : 0;
}

struct pool {
    SG_VEC(const char *) names;
    SG_VEC(const char *) vals;
};

static void pool_rule(struct pool *pl, const struct sg_rule *r)
{
    for (size_t s = 0; s < r->sels.n; s++)
        for (size_t a = 0; a < r->sels.v[s].alts.n; a++)
            for (size_t k = 0; k < r->sels.v[s].alts.v[a].items.n; k++) {
                const struct sg_item *it = &r->sels.v[s].alts.v[a].items.v[k];
                if (it->field)
                    WK_ASSERT_OK(SG_PUSH(pl->names, it->field));
                for (size_t m = 0; m < it->m.n; m++) {
                    if (it->m.v[m].lit)
                        WK_ASSERT_OK(SG_PUSH(pl->vals, it->m.v[m].lit));
                    for (size_t t = 0; t < it->m.v[m].ntoks; t++)
                        if (it->m.v[m].toks[t].s)
                            WK_ASSERT_OK(SG_PUSH(pl->vals, it->m.v[m].toks[t].s));
                    for (size_t t = 0; t < it->m.v[m].nrelit; t++)
                        WK_ASSERT_OK(SG_PUSH(pl->vals, it->m.v[m].relit[t]));
                }
            }
}

/* A value: a rule literal (case changed at random, maybe inside other text), a number, or
 * text that matches nothing. */
static void rnd_value(const struct pool *pl, char *buf, size_t cap)
{
    const char *lit = pl->vals.v[rnd((uint32_t)pl->vals.n)];
    switch (rnd(6)) {
    case 0:
        snprintf(buf, cap, "%u", rnd(70000));
        return;
    case 1:
        snprintf(buf, cap, "zz%uqq", rnd(1000));
        return;
    case 2:
        snprintf(buf, cap, "/x/%s -y %s", lit, pl->vals.v[rnd((uint32_t)pl->vals.n)]);
        break;
    case 3:
        snprintf(buf, cap, "%s/tail", lit);
        break;
    default:
        snprintf(buf, cap, "%s", lit);
        break;
    }
    for (char *c = buf; *c; c++)
        if (rnd(4) == 0 && *c >= 'a' && *c <= 'z')
            *c = (char)(*c - 32);
}

static void rnd_field(const struct pool *pl, struct wk_event *ev, unsigned rec)
{
    static const char *const extra[] = { "a0", "a1", "a2", "a3", "a4", "key", "name", "exe",
                                         "comm", "SYSCALL", "syscall", "cwd", "proctitle" };
    const char *name = rnd(3) ? pl->names.v[rnd((uint32_t)pl->names.n)]
                              : extra[rnd(sizeof(extra) / sizeof(extra[0]))];
    struct wk_key k = wk_key_init(name);
    char v[512];
    if (rnd(8) == 0) {
        WK_ASSERT_OK(wk_event_add_int(ev, rec, &k, (int64_t)rnd(70000)));
        return;
    }
    if (rnd(16) == 0) {
        char a[128], b[128];
        rnd_value(pl, a, sizeof(a));
        rnd_value(pl, b, sizeof(b));
        struct wk_str items[2] = { { a, strlen(a) }, { b, strlen(b) } };
        WK_ASSERT_OK(wk_event_add_strlist(ev, rec, &k, items, 2));
        return;
    }
    rnd_value(pl, v, sizeof(v));
    WK_ASSERT_OK(wk_event_add_str(ev, rec, &k, v, strlen(v)));
}

WK_TEST(fast_lookups_same_alerts_on_random_events)
{
    struct pair p;
    pair_init(&p);
    struct pool pl = { 0 };
    for (size_t i = 0; i < p.rs->rules.n; i++)
        if (!p.rs->rules.v[i]->is_corr)
            pool_rule(&pl, p.rs->rules.v[i]);
    for (size_t i = 0; i < p.rs->filters.n; i++)
        pool_rule(&pl, p.rs->filters.v[i]);
    WK_ASSERT(pl.names.n > 50 && pl.vals.n > 100);
    static const char *const types[] = { "SYSCALL", "EXECVE", "PATH", "CWD", "PROCTITLE",
                                         "ADD_USER", "TTY", "USER_CMD", "syscall", "execve" };
    static const char *const modules[] = { "auditd", "auditd", "auditd", "docker", "clog" };
    static const char *const actions[] = { "execve", "EXECVE", "connect", "exec_create",
                                           "start" };
    struct wk_key type = wk_key_init("type");
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (int n = 0; n < 6000; n++) {
        wk_event_reset(ev);
        wk_event_set_ts(ev, 1700000000000000000LL + (int64_t)n * 1000000);
        const char *mod = modules[rnd(5)];
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, mod, strlen(mod)));
        const char *act = actions[rnd(5)];
        if (rnd(2))
            WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, act, strlen(act)));
        /* event-level fields, some with names the records also have (the records' values
         * take precedence there, the event's elsewhere) */
        for (uint32_t i = 0, nf = rnd(12); i < nf; i++)
            rnd_field(&pl, ev, 0);
        if (strcmp(mod, "auditd") == 0)
            for (uint32_t r = 0, nr = rnd(5); r < nr; r++) {
                int rec = wk_event_add_record(ev);
                WK_ASSERT(rec > 0);
                const char *t = types[rnd(sizeof(types) / sizeof(types[0]))];
                if (rnd(10))
                    WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, t, strlen(t)));
                if (!strcmp(t, "EXECVE") && rnd(2)) { /* an argv, maybe with a gap */
                    for (uint32_t i = 0, na = rnd(6); i < na; i++) {
                        char name[8], v[512];
                        snprintf(name, sizeof(name), "a%u", i + (rnd(8) == 0));
                        struct wk_key k = wk_key_init(name);
                        rnd_value(&pl, v, sizeof(v));
                        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &k, v, strlen(v)));
                    }
                }
                for (uint32_t i = 0, nf = rnd(10); i < nf; i++)
                    rnd_field(&pl, ev, (unsigned)rec);
            }
        pair_eval(&p, ev);
    }
    /* random literals do fire rules: the comparison covers alerts, not only silence */
    WK_ASSERT(p.alerts > 200); /* 874 today */
    wk_event_free(ev);
    free(pl.names.v);
    free(pl.vals.v);
    pair_fini(&p);
}

/* Keywords that span EXECVE arguments ("a b" is in the joined argv only) and single-word
 * ones, on random argv vectors (with gaps and non-string arguments) made of the same words:
 * the argv join found by one walk of the fields against one lookup per argument. */
WK_TEST(fast_argv_join_same_alerts)
{
    static const char *const words[] = { "init", "6", "-s", "dd", "if=/dev/zero", "truncate",
                                         "x", "rm", "-rf", "/" };
    const size_t nw = sizeof(words) / sizeof(words[0]);
    char yaml[16384];
    size_t len = 0;
    for (int r = 0; r < 24; r++) {
        const char *a = words[rnd((uint32_t)nw)], *b = words[rnd((uint32_t)nw)];
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                "%stitle: kw%d\nid: 33333333-3333-4333-8333-%012d\n"
                                "logsource: {product: linux, service: auditd}\n"
                                "detection:\n  kw:\n    - '%s %s'\n    - '%s%s'\n"
                                "  condition: kw\n",
                                r ? "---\n" : "", r, r, a, b, r % 3 ? "zz" : "", a);
        WK_ASSERT(len < sizeof(yaml));
    }
    struct pair p;
    pair_from_yaml(&p, "kw.yml", yaml, 24);
    struct wk_key type = wk_key_init("type");
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (int n = 0; n < 3000; n++) {
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
        for (uint32_t r = 0, nr = 1 + rnd(3); r < nr; r++) {
            int rec = wk_event_add_record(ev);
            WK_ASSERT(rec > 0);
            const char *t = rnd(4) ? "EXECVE" : "SYSCALL";
            WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, t, strlen(t)));
            for (uint32_t i = 0, na = rnd(140) < 4 ? 130 : rnd(7); i < na; i++) {
                char name[8];
                unsigned ai = i + (rnd(30) == 0); /* now and then a gap */
                snprintf(name, sizeof(name), "a%u", ai);
                struct wk_key k = wk_key_init(name);
                if (rnd(25) == 0) {
                    WK_ASSERT_OK(wk_event_add_int(ev, (unsigned)rec, &k, 6));
                    continue;
                }
                const char *w = words[rnd((uint32_t)nw)];
                WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &k, w, strlen(w)));
            }
        }
        pair_eval(&p, ev);
    }
    WK_ASSERT(p.alerts > 1000);
    wk_event_free(ev);
    pair_fini(&p);
}

/* The prefilter's own databases and factors: none exist in a build without Hyperscan
 * (-Dhyperscan=disabled, where every rule is evaluated), so these five tests are not built
 * there; the tests around them still compare alerts in both builds. */
#if WK_HAVE_HYPERSCAN
/* Keyword literals of two bytes (prefilter.c: rs->kwdb2, scanned over a record's haystacks
 * only when a matcher of one is evaluated) alone, in `all` items next to longer ones (whose
 * groups kw_order tests first), cased or not, on random records of the same words, some
 * records evaluated by several rules: the same alerts as without the prefilter. */
WK_TEST(keyword_short_literals_same_alerts)
{
    static const char *const words[] = { "dd", "-s", "if=/dev/zero", "of=/x", "truncate",
                                         "Dd", "-S", "ab", "xdd", "init", "6", "-rf" };
    const size_t nw = sizeof(words) / sizeof(words[0]);
    static const char rules[] =
        "title: k0\nid: 77777777-7777-4777-8777-000000000000\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel:\n    type: EXECVE\n  kw:\n    '|all':\n      - dd\n      - 'if='\n"
        "  flt:\n    - 'of='\n  condition: sel and kw and not flt\n---\n"
        "title: k1\nid: 77777777-7777-4777-8777-000000000001\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  kw:\n    - '-s'\n    - truncate\n  condition: kw\n---\n"
        "title: k2\nid: 77777777-7777-4777-8777-000000000002\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  kw:\n    '|cased|all':\n      - Dd\n      - ab\n      - '-S'\n"
        "  condition: kw\n---\n"
        "title: k3\nid: 77777777-7777-4777-8777-000000000003\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  kw:\n    '|all':\n      - 'x'\n      - rf\n      - truncate\n"
        "  condition: kw\n---\n"
        "title: k4\nid: 77777777-7777-4777-8777-000000000004\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel:\n    type: SYSCALL\n  kw:\n    - 'd 6'\n    - 't 6'\n"
        "  condition: sel and kw\n";
    struct pair p;
    pair_from_yaml(&p, "kws.yml", rules, 5);
    WK_ASSERT(p.rs->prefilter);
    WK_ASSERT(p.rs->kwdb != NULL && p.rs->kwdb2 != NULL);
    WK_ASSERT_UINT_EQ(p.rs->nkw, 12);     /* 'x' is searched for by its matcher */
    WK_ASSERT_UINT_EQ(p.rs->nkw_long, 6); /* if= of= truncate truncate 'd 6' 't 6' */
    /* k0's `all` item tests 'if=' (in kwdb) before 'dd' (kwdb2); k3's tests 'x' (searched
     * for by its matcher) last */
    size_t ordered = 0;
    for (size_t r = 0; r < p.rs->rules.n; r++) {
        const struct sg_rule *rl = p.rs->rules.v[r];
        for (size_t sl = 0; sl < rl->sels.n; sl++)
            for (size_t a = 0; a < rl->sels.v[sl].alts.n; a++)
                for (size_t k = 0; k < rl->sels.v[sl].alts.v[a].items.n; k++) {
                    const struct sg_item *it = &rl->sels.v[sl].alts.v[a].items.v[k];
                    for (size_t i = 0; !it->field && it->all && i < it->m.n; i++) {
                        const struct sg_matcher *m = &it->m.v[i];
                        if (m->len == 3 && !memcmp(m->lit, "if=", 3))
                            ordered += m->group == 0;
                        if (m->len == 2 && !memcmp(m->lit, "dd", 2))
                            ordered += m->group == 1;
                        if (m->len == 1 && m->lit[0] == 'x')
                            ordered += m->group == 2;
                    }
                }
    }
    WK_ASSERT_UINT_EQ(ordered, 3);
    struct wk_key type = wk_key_init("type");
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (int n = 0; n < 4000; n++) {
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
        for (uint32_t r = 0, nr = 1 + rnd(3); r < nr; r++) {
            int rec = wk_event_add_record(ev);
            WK_ASSERT(rec > 0);
            const char *t = rnd(3) ? "EXECVE" : "SYSCALL";
            WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, t, strlen(t)));
            for (uint32_t i = 0, na = rnd(6); i < na; i++) {
                char name[8];
                snprintf(name, sizeof(name), rnd(5) ? "a%u" : "k%u", i);
                struct wk_key k = wk_key_init(name);
                const char *w = words[rnd((uint32_t)nw)];
                WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &k, w, strlen(w)));
            }
        }
        pair_eval(&p, ev);
    }
    WK_ASSERT(p.alerts > 1000);
    wk_event_free(ev);
    pair_fini(&p);
}

/* The prefilter's byte-pair check (prefilter.c bigram_seen: a short value without the
 * first two bytes of a literal, in either case, where one still fits, is not scanned)
 * against every value scanned: literals of 3..7 bytes at the start, in the middle and at
 * the very end of values (or the whole value), in mixed case, next to values holding only
 * their first bytes, in one field and in a string list. */
WK_TEST(prefilter_byte_pairs_same_alerts)
{
    static const char *const lits[] = { "abc", "x/y-z", "Sh4d", "passwd", "QQ.rr7", "_k=v" };
    static const char fill[] = "abcdxyz/-_.=QWSP47 passwdsh";
    const size_t nl = sizeof(lits) / sizeof(lits[0]);
    char yaml[8192];
    size_t len = 0;
    for (size_t r = 0; r < nl; r++) {
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                "%stitle: bg%zu\nid: 44444444-4444-4444-8444-%012zu\n"
                                "logsource: {product: linux, service: auditd}\n"
                                "detection:\n  sel:\n    type: EXECVE\n"
                                "    a0|contains: ['%s', '%s']\n  condition: sel\n",
                                r ? "---\n" : "", r, r, lits[r], lits[(r + 2) % nl]);
        WK_ASSERT(len < sizeof(yaml));
    }
    struct pair p;
    pair_from_yaml(&p, "bg.yml", yaml, (int)nl);
    WK_ASSERT(p.rs->prefilter);
    struct wk_key type = wk_key_init("type"), a0 = wk_key_init("a0");
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (int n = 0; n < 6000; n++) {
        char v[2][96];
        for (int k = 0; k < 2; k++) {
            const char *lit = lits[rnd((uint32_t)nl)];
            size_t ll = strlen(lit), pre = rnd(4) ? rnd(70) : 0, post = rnd(3) ? 0 : rnd(4);
            size_t o = 0;
            for (size_t i = 0; i < pre; i++)
                v[k][o++] = fill[rnd(sizeof(fill) - 1)];
            /* the literal, or only its first 2..len-1 bytes */
            size_t take = rnd(5) ? ll : 2 + rnd((uint32_t)ll - 2);
            for (size_t i = 0; i < take; i++) {
                char c = lit[i];
                if (rnd(2) && c >= 'a' && c <= 'z')
                    c = (char)(c - 32);
                else if (rnd(2) && c >= 'A' && c <= 'Z')
                    c = (char)(c + 32);
                v[k][o++] = c;
            }
            for (size_t i = 0; i < post; i++)
                v[k][o++] = fill[rnd(sizeof(fill) - 1)];
            v[k][o] = '\0';
        }
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
        int rec = wk_event_add_record(ev);
        WK_ASSERT(rec > 0);
        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, "EXECVE", 6));
        if (rnd(8)) {
            WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &a0, v[0], strlen(v[0])));
        } else {
            struct wk_str items[2] = { { v[0], strlen(v[0]) }, { v[1], strlen(v[1]) } };
            WK_ASSERT_OK(wk_event_add_strlist(ev, (unsigned)rec, &a0, items, 2));
        }
        pair_eval(&p, ev);
    }
    WK_ASSERT(p.alerts > 3000);
    wk_event_free(ev);
    pair_fini(&p);
}

/* Per-bucket factors (prefilter.c alt_excluded): a rule with a branch that needs only the
 * record type (`type: TTY`) has no factor of its own, but in a PATH record that branch
 * cannot match, so the other branch's literals decide whether it is evaluated at all. */
WK_TEST(bucket_factor_skips_type_only_branch)
{
    static const char yaml[] =
        "title: pam\nid: 55555555-5555-4555-8555-000000000001\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel_path:\n    type: PATH\n    name:\n      - /etc/pam.d/system-auth\n"
        "      - /etc/pam.d/password-auth\n  sel_tty:\n    type: [TTY, USER_TTY]\n"
        "  condition: 1 of sel_*\n";
    struct pair p;
    pair_from_yaml(&p, "pam.yml", yaml, 1);
    WK_ASSERT(p.rs->prefilter);
    WK_ASSERT(!p.rs->rules.v[0]->has_factor);
    struct wk_key type = wk_key_init("type"), name = wk_key_init("name");
    static const struct {
        const char *type, *name;
        unsigned alerts, evals; /* with the prefilter */
    } cases[] = {
        { "PATH", "/etc/passwd", 0, 0 },            /* no literal: not evaluated */
        { "PATH", "/etc/pam.d/system-auth", 1, 1 }, /* the literal: evaluated, fires */
        { "path", "/ETC/PAM.D/PASSWORD-AUTH", 1, 1 },
        { "PATH", "/etc/pam.d/system-auth.bak", 0, 0 }, /* in it, but not equal */
        { "USER_TTY", "/etc/passwd", 1, 1 },            /* the type-only branch */
        { "TTY", NULL, 1, 1 },
        { "SYSCALL", "/etc/pam.d/system-auth", 0, 0 }, /* in no bucket of the rule */
    };
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wk_rule_stats st0, st1, nst0, nst1;
        wk_rule_scratch_stats(p.fast, &st0);
        wk_rule_scratch_stats(p.nopf, &nst0);
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
        int rec = wk_event_add_record(ev);
        WK_ASSERT(rec > 0);
        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, cases[i].type,
                                      strlen(cases[i].type)));
        if (cases[i].name)
            WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &name, cases[i].name,
                                          strlen(cases[i].name)));
        size_t before = p.alerts;
        pair_eval(&p, ev);
        wk_rule_scratch_stats(p.fast, &st1);
        wk_rule_scratch_stats(p.nopf, &nst1);
        WK_ASSERT_UINT_EQ(p.alerts - before, cases[i].alerts);
        WK_ASSERT_UINT_EQ(st1.rule_evals - st0.rule_evals, cases[i].evals);
        /* without the prefilter every record of the rule's buckets evaluates it */
        WK_ASSERT_UINT_EQ(nst1.rule_evals - nst0.rule_evals,
                          strcasecmp(cases[i].type, "SYSCALL") ? 1 : 0);
    }
    wk_event_free(ev);
    pair_fini(&p);
}

/* A two-byte literal is a factor too (`name|contains: '/.'`, SigmaHQ's hidden paths rule):
 * a PATH record whose name holds no "/." does not evaluate the rule. */
WK_TEST(two_byte_factor_skips_evaluation)
{
    static const char yaml[] =
        "title: dot\nid: 55555555-5555-4555-8555-000000000002\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel:\n    type: PATH\n    name|contains: '/.'\n"
        "  flt:\n    name|contains: '/.cache/'\n  condition: sel and not flt\n";
    struct pair p;
    pair_from_yaml(&p, "dot.yml", yaml, 1);
    WK_ASSERT(p.rs->rules.v[0]->has_factor);
    struct wk_key type = wk_key_init("type"), name = wk_key_init("name");
    static const struct {
        const char *name;
        unsigned alerts, evals;
    } cases[] = {
        { "/etc/passwd", 0, 0 }, { "/home/u/.x", 1, 1 }, { "/h/.cache/y", 0, 1 },
        { "./x", 0, 0 },         { "a/.", 1, 1 },        { "/", 0, 0 },
    };
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wk_rule_stats st0, st1;
        wk_rule_scratch_stats(p.fast, &st0);
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
        int rec = wk_event_add_record(ev);
        WK_ASSERT(rec > 0);
        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, "PATH", 4));
        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &name, cases[i].name,
                                      strlen(cases[i].name)));
        size_t before = p.alerts;
        pair_eval(&p, ev);
        wk_rule_scratch_stats(p.fast, &st1);
        WK_ASSERT_UINT_EQ(p.alerts - before, cases[i].alerts);
        WK_ASSERT_UINT_EQ(st1.rule_evals - st0.rule_evals, cases[i].evals);
    }
    wk_event_free(ev);
    pair_fini(&p);
}

/* Random rules whose selections pair a type (one or two values, or none) with a field
 * literal or not, in conditions of every shape (OR of selections, AND, AND NOT, nested),
 * on random records of those types and literals: the same alerts with the prefilter's
 * per-bucket factors as without the prefilter. */
WK_TEST(bucket_factor_same_alerts)
{
    static const char *const types[] = { "PATH", "TTY", "SYSCALL", "EXECVE", "CWD" };
    static const char *const fields[] = { "name", "exe", "a0", "cwd" };
    static const char *const lits[] = { "/etc/shadow", "/usr/bin/nc", "curl", "/tmp/x1",
                                        "wget", "/root/.ssh" };
    static const char *const mods[] = { "", "|contains", "|startswith", "|endswith" };
    static const char *const conds[] = { "1 of sel*", "sel0 and sel1", "sel0 and not sel1",
                                         "(sel0 or sel1) and sel2", "sel0 or (sel1 and sel2)",
                                         "all of sel*", "not sel0 and sel1" };
    const uint32_t nt = 5, nf = 4, nl = 6;
    size_t nfac = 0, alerts = 0;
    for (int round = 0; round < 8; round++) {
        char yaml[65536];
        size_t len = 0;
        const int nrules = 30;
        for (int r = 0; r < nrules; r++) {
            len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                    "%stitle: bf%d\nid: 66666666-6666-4666-8666-%012d\n"
                                    "logsource: {product: linux, service: auditd}\n"
                                    "detection:\n",
                                    r ? "---\n" : "", r, r);
            for (int k = 0; k < 3; k++) {
                len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "  sel%d:\n", k);
                uint32_t shape = rnd(6);
                if (shape != 5) /* a type, one or two values */
                    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                            rnd(2) ? "    type: [%s, %s]\n" : "    type: %s%.0s\n",
                                            types[rnd(nt)], types[rnd(nt)]);
                if (shape < 3 || shape == 5) /* a field literal (always when no type) */
                    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                            "    %s%s: ['%s', '%s']\n", fields[rnd(nf)],
                                            mods[rnd(4)], lits[rnd(nl)], lits[rnd(nl)]);
            }
            len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "  condition: %s\n",
                                    conds[rnd(sizeof(conds) / sizeof(conds[0]))]);
            WK_ASSERT(len < sizeof(yaml));
        }
        struct pair p;
        pair_from_yaml(&p, "bf.yml", yaml, nrules);
        WK_ASSERT(p.rs->prefilter);
        for (size_t l = 0; l < p.rs->ls.n; l++)
            for (size_t b = 0; b < p.rs->ls.v[l].buckets.n; b++)
                for (size_t k = 0; k < p.rs->ls.v[l].buckets.v[b].fac.n; k++)
                    nfac += p.rs->ls.v[l].buckets.v[b].fac.v[k];
        struct wk_key type = wk_key_init("type");
        struct wk_event *ev = NULL;
        WK_ASSERT_OK(wk_event_new(&ev));
        for (int n = 0; n < 1500; n++) {
            wk_event_reset(ev);
            WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
            for (uint32_t r = 0, nr = 1 + rnd(3); r < nr; r++) {
                int rec = wk_event_add_record(ev);
                WK_ASSERT(rec > 0);
                char t[16];
                snprintf(t, sizeof(t), "%s", types[rnd(nt)]);
                if (rnd(4) == 0)
                    t[0] = (char)(t[0] + 32); /* the dispatch compares case-insensitively */
                if (rnd(12))
                    WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, t, strlen(t)));
                for (uint32_t i = 0, n2 = rnd(4); i < n2; i++) {
                    struct wk_key k = wk_key_init(fields[rnd(nf)]);
                    char v[64];
                    snprintf(v, sizeof(v), "%s%s%s", rnd(3) ? "" : "/p", lits[rnd(nl)],
                             rnd(3) ? "" : "/q");
                    if (rnd(4) == 0 && v[1] >= 'a' && v[1] <= 'z')
                        v[1] = (char)(v[1] - 32);
                    WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &k, v, strlen(v)));
                }
            }
            pair_eval(&p, ev);
        }
        alerts += p.alerts;
        wk_event_free(ev);
        pair_fini(&p);
    }
    /* the per-bucket factors are there to be tested, and the comparison covers alerts */
    WK_ASSERT(nfac >= 20);        /* 30 today */
    WK_ASSERT(alerts >= 20000);   /* 54379 today */
}
#endif

/* The key table's name comparison (sigma_private.h wk__sg_name_eq: words, the last ones
 * overlapping) against memcmp: names of 0..40 bytes equal, and differing at every
 * position. (A key's hash is compared first, so a wrong answer here would only show on a
 * hash collision in the rules tests.) */
WK_TEST(name_eq_as_memcmp)
{
    char a[48], b[48];
    int checked = 0;
    for (uint32_t n = 0; n <= 40; n++) {
        for (uint32_t i = 0; i < n; i++)
            a[i] = b[i] = (char)('a' + (i * 7) % 26);
        WK_ASSERT(wk__sg_name_eq(a, b, n));
        for (uint32_t at = 0; at < n; at++) {
            b[at] ^= 0x20;
            WK_ASSERT(!wk__sg_name_eq(a, b, n));
            WK_ASSERT(!wk__sg_name_eq(b, a, n));
            b[at] ^= 0x20;
            checked++;
        }
    }
    WK_ASSERT_INT_EQ(checked, 820);
}

/* Anchored field literals (prefilter.c scan_anchored: equality, startswith and endswith
 * literals looked up by the value's first or last two bytes instead of searched for by
 * Hyperscan, one-byte equality literals included) and keyword factors (a rule whose
 * condition needs a keyword of the keyword database is only evaluated in a record whose
 * keyword scan saw one): random rules of short literals, cased or not, in every kind of
 * condition, on random records of the same literals in mixed case, with bytes before and
 * after: the same alerts as without the prefilter. */
WK_TEST(anchored_and_keyword_factors_same_alerts)
{
    static const char *const lits[] = { "w", "id", "Ab", "abc", "/x", "x/", "a", "ab/c",
                                        "bc", "password", "grep" };
    static const char *const mods[] = { "", "|contains", "|startswith", "|endswith",
                                        "|cased", "|startswith|cased", "|endswith|cased" };
    static const char *const fields[] = { "a0", "exe", "name" };
    static const char *const conds[] = { "1 of sel*", "sel0 and sel1", "sel0 and not sel1",
                                         "(sel0 or sel1) and sel2", "sel0 or (sel1 and sel2)",
                                         "all of sel*" };
    const uint32_t nl = sizeof(lits) / sizeof(lits[0]), nm = sizeof(mods) / sizeof(mods[0]);
    size_t nfac = 0, nkw = 0, alerts = 0, evals = 0, evals_nopf = 0;
    for (int round = 0; round < 6; round++) {
        char yaml[65536];
        size_t len = 0;
        const int nrules = 30;
        for (int r = 0; r < nrules; r++) {
            len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                    "%stitle: an%d\nid: 88888888-8888-4888-8888-%012d\n"
                                    "logsource: {product: linux, service: auditd}\n"
                                    "detection:\n",
                                    r ? "---\n" : "", r, r);
            for (int k = 0; k < 3; k++) {
                uint32_t shape = rnd(5);
                if (shape == 0) /* keywords, any or all of them */
                    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                            "  sel%d:\n    '|%s':\n      - '%s'\n      - '%s'\n",
                                            k, rnd(2) ? "all" : "contains", lits[rnd(nl)],
                                            lits[rnd(nl)]);
                else
                    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                            "  sel%d:\n%s    %s%s: ['%s', '%s']\n", k,
                                            shape == 1 ? "    type: EXECVE\n" : "",
                                            fields[rnd(3)], mods[rnd(nm)], lits[rnd(nl)],
                                            lits[rnd(nl)]);
            }
            len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "  condition: %s\n",
                                    conds[rnd(sizeof(conds) / sizeof(conds[0]))]);
            WK_ASSERT(len < sizeof(yaml));
        }
        struct pair p;
        pair_from_yaml(&p, "an.yml", yaml, nrules);
        WK_ASSERT(p.rs->prefilter == WK_HAVE_HYPERSCAN);
        for (size_t r = 0; r < p.rs->rules.n; r++) {
            nfac += p.rs->rules.v[r]->has_factor;
            nkw += p.rs->rules.v[r]->factor_kw;
        }
        struct wk_key type = wk_key_init("type");
        struct wk_event *ev = NULL;
        WK_ASSERT_OK(wk_event_new(&ev));
        struct wk_rule_stats st0, st1, nst0, nst1;
        wk_rule_scratch_stats(p.fast, &st0);
        wk_rule_scratch_stats(p.nopf, &nst0);
        for (int n = 0; n < 1500; n++) {
            wk_event_reset(ev);
            WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
            for (uint32_t r = 0, nr = 1 + rnd(3); r < nr; r++) {
                int rec = wk_event_add_record(ev);
                WK_ASSERT(rec > 0);
                const char *t = rnd(2) ? "EXECVE" : "PATH";
                WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, t, strlen(t)));
                for (uint32_t i = 0, n2 = rnd(4); i < n2; i++) {
                    struct wk_key k = wk_key_init(fields[rnd(3)]);
                    char v[64];
                    snprintf(v, sizeof(v), "%s%s%s", rnd(3) ? "" : rnd(2) ? "/" : "zz",
                             lits[rnd(nl)], rnd(3) ? "" : rnd(2) ? "c" : "/q");
                    for (char *c = v; *c; c++) /* mixed case */
                        if (*c >= 'a' && *c <= 'z' && rnd(4) == 0)
                            *c = (char)(*c - 32);
                    WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &k, v, strlen(v)));
                }
            }
            pair_eval(&p, ev);
        }
        wk_rule_scratch_stats(p.fast, &st1);
        wk_rule_scratch_stats(p.nopf, &nst1);
        evals += st1.rule_evals - st0.rule_evals;
        evals_nopf += nst1.rule_evals - nst0.rule_evals;
        alerts += p.alerts;
        wk_event_free(ev);
        pair_fini(&p);
    }
    WK_ASSERT(alerts >= 15000);      /* 23,468 today */
    if (!WK_HAVE_HYPERSCAN)          /* no prefilter: the alerts are still compared */
        return;
    WK_ASSERT(nfac >= 100);          /* 137 of 180 today */
    WK_ASSERT(nkw >= 15);            /* 25 today */
    WK_ASSERT(evals * 2 < evals_nopf); /* 161k against 451k today */
}

/* What the anchored literals and keyword factors spare: a rule is evaluated only in the
 * records whose value equals (begins, ends with) one of its literals in any case, or whose
 * keyword haystacks hold one of its keywords. */
WK_TEST(anchored_and_keyword_factors_skip_evaluation)
{
    static const char yaml[] =
        "title: eq\nid: 55555555-5555-4555-8555-000000000010\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel:\n    type: EXECVE\n    a0: [w, id]\n  condition: sel\n---\n"
        "title: end\nid: 55555555-5555-4555-8555-000000000011\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel:\n    type: EXECVE\n    a0|endswith: '/nc'\n  condition: sel\n---\n"
        "title: kw\nid: 55555555-5555-4555-8555-000000000012\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel:\n    type: EXECVE\n  kw:\n    '|all':\n      - grep\n"
        "      - password\n  condition: sel and kw\n---\n"
        "title: start\nid: 55555555-5555-4555-8555-000000000013\n"
        "logsource: {product: linux, service: auditd}\n"
        "detection:\n  sel:\n    type: EXECVE\n    a0|startswith: '/usr/'\n"
        "  condition: sel\n";
    struct pair p;
    pair_from_yaml(&p, "ak.yml", yaml, 4);
    if (!WK_HAVE_HYPERSCAN) { /* without the prefilter every rule is evaluated */
        pair_fini(&p);
        return;
    }
    WK_ASSERT(p.rs->rules.v[0]->has_factor && !p.rs->rules.v[0]->factor_kw);
    WK_ASSERT(p.rs->rules.v[1]->has_factor && !p.rs->rules.v[1]->factor_kw);
    WK_ASSERT(p.rs->rules.v[2]->has_factor && p.rs->rules.v[2]->factor_kw);
    struct wk_key type = wk_key_init("type"), a0 = wk_key_init("a0"), a1 = wk_key_init("a1");
    static const struct {
        const char *a0, *a1;
        unsigned alerts, evals;
    } cases[] = {
        { "w", NULL, 1, 1 },           { "W", "x", 1, 1 },
        { "ww", NULL, 0, 0 },          { "iD", NULL, 1, 1 },
        { "idx", NULL, 0, 0 },         { "xid", NULL, 0, 0 },
        { "/bin/nc", NULL, 1, 1 },     { "/bin/NC", NULL, 1, 1 },
        { "/bin/nc.x", NULL, 0, 0 },   { "nc", NULL, 0, 0 },
        { "/nc", NULL, 1, 1 },         { "grep", "x", 0, 0 },
        { "grep", "password", 1, 1 },  { "cat", "password", 0, 1 },
        { "/usr/bin/grep", "Password1", 2, 2 }, { "/usr", NULL, 0, 0 },
        { "/usrx", NULL, 0, 0 },       { "/UsR/", NULL, 1, 1 },
    };
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wk_rule_stats st0, st1;
        wk_rule_scratch_stats(p.fast, &st0);
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
        int rec = wk_event_add_record(ev);
        WK_ASSERT(rec > 0);
        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &type, "EXECVE", 6));
        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &a0, cases[i].a0,
                                      strlen(cases[i].a0)));
        if (cases[i].a1)
            WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, &a1, cases[i].a1,
                                          strlen(cases[i].a1)));
        size_t before = p.alerts;
        pair_eval(&p, ev);
        wk_rule_scratch_stats(p.fast, &st1);
        WK_ASSERT_UINT_EQ(p.alerts - before, cases[i].alerts);
        WK_ASSERT_UINT_EQ(st1.rule_evals - st0.rule_evals, cases[i].evals);
    }
    wk_event_free(ev);
    pair_fini(&p);
}

/* The key table's buckets (sigma_private.h wk__sg_key_id): two field names of the rules in
 * one bucket of rs->kb are both found through the table, a name of no rule in the same
 * bucket through neither; fast, plain and unfiltered evaluation agree. */
WK_TEST(key_table_shared_bucket)
{
    char a[16] = "", b[16] = "", c[16] = "";
    unsigned ba = 0;
    for (unsigned i = 0; i < 100000 && !c[0]; i++) {
        char n[16];
        snprintf(n, sizeof(n), "k%u", i);
        struct wk_key k = wk_key_init(n);
        unsigned bk = (k.hash ^ (k.hash >> 16)) & 4095u;
        if (!a[0]) {
            memcpy(a, n, sizeof(n));
            ba = bk;
        } else if (bk == ba && !b[0]) {
            memcpy(b, n, sizeof(n));
        } else if (bk == ba) {
            memcpy(c, n, sizeof(n));
        }
    }
    WK_ASSERT(c[0] != 0);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "title: kb\nid: 55555555-5555-4555-8555-000000000020\n"
             "logsource: {product: linux, service: auditd}\n"
             "detection:\n  s1:\n    %s: v1\n  s2:\n    %s: v2\n  condition: 1 of s*\n",
             a, b);
    struct pair p;
    pair_from_yaml(&p, "kb.yml", yaml, 1);
    WK_ASSERT_UINT_EQ(p.rs->kb[ba], 255);
    struct wk_key ka = wk_key_init(a), kb = wk_key_init(b), kc = wk_key_init(c);
    static const struct {
        int key; /* 0: a, 1: b, 2: c */
        const char *v;
        unsigned alerts;
    } cases[] = { { 0, "v1", 1 }, { 1, "v2", 1 }, { 0, "v2", 0 }, { 2, "v1", 0 },
                  { 2, "v2", 0 }, { 1, "V2", 1 } };
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6));
        int rec = wk_event_add_record(ev);
        WK_ASSERT(rec > 0);
        const struct wk_key *k = cases[i].key == 0 ? &ka : cases[i].key == 1 ? &kb : &kc;
        WK_ASSERT_OK(wk_event_add_str(ev, (unsigned)rec, k, cases[i].v, strlen(cases[i].v)));
        size_t before = p.alerts;
        pair_eval(&p, ev);
        WK_ASSERT_UINT_EQ(p.alerts - before, cases[i].alerts);
    }
    wk_event_free(ev);
    pair_fini(&p);
}
