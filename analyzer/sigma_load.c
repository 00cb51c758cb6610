/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Sigma loader: YAML (libfyaml document tree) to the internal representation of
 * sigma_private.h. Every document of a file is a detection rule, a correlation rule or
 * something we reject; anything not supported is rejected with file:line:col naming the
 * feature, never ignored. Also loads the logsource mapping and placeholder files.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "sigma_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/mem.h"

int wk__sg_grow(void **v, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*v, nc * elsize);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}

/* ---- the loader context of one document ------------------------------------------------ */
struct doc {
    struct wk_rule_loader *l;
    const char *file;
    bool failed;
};

static void pos_of(struct fy_node *n, unsigned *line, unsigned *col)
{
    *line = *col = 0;
    while (n) {
        enum fy_node_type t = fy_node_get_type(n);
        if (t == FYNT_SCALAR) {
            struct fy_token *tok = fy_node_get_scalar_token(n);
            const struct fy_mark *m = tok ? fy_token_start_mark(tok) : NULL;
            if (m) {
                *line = (unsigned)m->line + 1;
                *col = (unsigned)m->column + 1;
            }
            return;
        }
        void *it = NULL;
        if (t == FYNT_MAPPING) {
            struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
            n = p ? fy_node_pair_key(p) : NULL;
        } else {
            n = fy_node_sequence_iterate(n, &it);
        }
    }
}

static int add_reject(struct wk_rule_loader *l, const char *file, unsigned line, unsigned col,
                      const char *msg)
{
    struct wk_rule_reject r = { strdup(file ? file : "-"), line, col, strdup(msg) };
    if (!r.file || !r.msg || SG_PUSH(l->rejects, r) < 0) {
        free(r.file);
        free(r.msg);
        return -ENOMEM;
    }
    return 0;
}

__attribute__((format(printf, 3, 4))) static void rej(struct doc *d, struct fy_node *n,
                                                      const char *fmt, ...)
{
    if (d->failed)
        return; /* one rejection per document: the first problem */
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unsigned line, col;
    pos_of(n, &line, &col);
    (void)add_reject(d->l, d->file, line, col, msg);
    d->failed = true;
}

static char *node_str(struct fy_node *n, size_t *lenp)
{
    size_t len = 0;
    const char *s = n && fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar(n, &len) : NULL;
    if (!s)
        return NULL;
    char *c = malloc(len + 1);
    if (!c)
        return NULL;
    memcpy(c, s, len);
    c[len] = 0;
    if (lenp)
        *lenp = len;
    return c;
}

static bool is_plain(struct fy_node *n)
{
    return fy_node_get_style(n) == FYNS_PLAIN;
}

/* YAML null: a plain scalar null, ~, or empty. */
static bool is_null(struct fy_node *n)
{
    if (!n)
        return true;
    if (fy_node_get_type(n) != FYNT_SCALAR || !is_plain(n))
        return false;
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    return !s || len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static bool key_is(struct fy_node_pair *p, const char *k)
{
    size_t len;
    const char *s = fy_node_get_scalar(fy_node_pair_key(p), &len);
    return s && len == strlen(k) && memcmp(s, k, len) == 0;
}

static struct fy_node *map_get(struct fy_node *map, const char *k)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it)))
        if (key_is(p, k))
            return fy_node_pair_value(p);
    return NULL;
}

/* A scalar string field; wrong type rejects. */
static char *get_str(struct doc *d, struct fy_node *map, const char *k, bool required)
{
    struct fy_node *n = map_get(map, k);
    if (!n || is_null(n)) {
        if (required)
            rej(d, map, "missing required key '%s'", k);
        return NULL;
    }
    if (fy_node_get_type(n) != FYNT_SCALAR) {
        rej(d, n, "'%s' must be a string", k);
        return NULL;
    }
    char *s = node_str(n, NULL);
    if (!s)
        rej(d, n, "out of memory");
    return s;
}

/* A list of strings (a single string is accepted as a list of one). */
static void get_strlist(struct doc *d, struct fy_node *map, const char *k, void *vecp)
{
    SG_VEC(char *) *vec = vecp;
    struct fy_node *n = map_get(map, k);
    if (!n || is_null(n))
        return;
    if (fy_node_get_type(n) == FYNT_SCALAR) {
        char *s = node_str(n, NULL);
        if (!s || SG_PUSH(*vec, s) < 0)
            free(s), rej(d, n, "out of memory");
        return;
    }
    if (fy_node_get_type(n) != FYNT_SEQUENCE) {
        rej(d, n, "'%s' must be a list of strings", k);
        return;
    }
    void *it = NULL;
    struct fy_node *e;
    while ((e = fy_node_sequence_iterate(n, &it))) {
        if (fy_node_get_type(e) != FYNT_SCALAR) {
            rej(d, e, "'%s' must be a list of strings", k);
            return;
        }
        char *s = node_str(e, NULL);
        if (!s || SG_PUSH(*vec, s) < 0)
            free(s), rej(d, e, "out of memory");
    }
}

/* ---- modifiers ---------------------------------------------------------------------------- */
static const struct {
    const char *name;
    int mod;
} mod_names[] = {
    { "contains", SG_M_CONTAINS }, { "startswith", SG_M_STARTSWITH },
    { "endswith", SG_M_ENDSWITH }, { "all", SG_M_ALL }, { "re", SG_M_RE }, { "i", SG_M_RE_I },
    { "ignorecase", SG_M_RE_I }, { "m", SG_M_RE_M }, { "multiline", SG_M_RE_M },
    { "s", SG_M_RE_S }, { "dotall", SG_M_RE_S }, { "cidr", SG_M_CIDR },
    { "base64", SG_M_BASE64 }, { "base64offset", SG_M_BASE64OFFSET },
    { "utf16le", SG_M_UTF16LE }, { "wide", SG_M_UTF16LE }, { "utf16be", SG_M_UTF16BE },
    { "utf16", SG_M_UTF16 }, { "windash", SG_M_WINDASH }, { "exists", SG_M_EXISTS },
    { "gt", SG_M_GT }, { "gte", SG_M_GTE }, { "lt", SG_M_LT }, { "lte", SG_M_LTE },
    { "fieldref", SG_M_FIELDREF }, { "cased", SG_M_CASED }, { "expand", SG_M_EXPAND },
    { "neq", SG_M_NEQ }, { "minute", SG_M_MINUTE }, { "hour", SG_M_HOUR },
    { "day", SG_M_DAY }, { "week", SG_M_WEEK }, { "month", SG_M_MONTH }, { "year", SG_M_YEAR },
};

static int mod_lookup(const char *s, size_t len)
{
    for (size_t i = 0; i < WK_ARRAY_SIZE(mod_names); i++)
        if (strlen(mod_names[i].name) == len && memcmp(mod_names[i].name, s, len) == 0)
            return mod_names[i].mod;
    return -1;
}

/* One map entry `field|mods: values` (or `|mods: values` for keywords) into an item. */
static void parse_entry(struct doc *d, struct sg_alt *alt, struct fy_node *kn, struct fy_node *vn)
{
    size_t klen = 0;
    const char *k = kn ? fy_node_get_scalar(kn, &klen) : "";
    if (!k || (kn && fy_node_get_type(kn) != FYNT_SCALAR)) {
        rej(d, kn, "detection keys must be strings");
        return;
    }
    const char *bar = memchr(k, '|', klen);
    size_t flen = bar ? (size_t)(bar - k) : klen;
    enum sg_mod mods[16];
    size_t nmods = 0;
    while (bar) {
        const char *s = bar + 1;
        const char *e = memchr(s, '|', klen - (size_t)(s - k));
        size_t ml = e ? (size_t)(e - s) : klen - (size_t)(s - k);
        int m = mod_lookup(s, ml);
        if (m < 0) {
            rej(d, kn, "unsupported value modifier '%.*s'", (int)ml, s);
            return;
        }
        if (nmods == WK_ARRAY_SIZE(mods)) {
            rej(d, kn, "too many value modifiers");
            return;
        }
        mods[nmods++] = (enum sg_mod)m;
        bar = e;
    }
    struct sg_item it = { 0 };
    pos_of(kn ? kn : vn, &it.line, &it.col);
    if (flen) {
        it.field = strndup(k, flen);
        if (!it.field) {
            rej(d, kn, "out of memory");
            return;
        }
    }
    /* values */
    SG_VEC(struct sg_rawval) vals = { 0 };
    bool is_list = false;
    if (vn && fy_node_get_type(vn) == FYNT_SEQUENCE) {
        is_list = true;
        void *iter = NULL;
        struct fy_node *e;
        while ((e = fy_node_sequence_iterate(vn, &iter))) {
            if (fy_node_get_type(e) != FYNT_SCALAR) {
                rej(d, e, "a value list may only hold scalars (nested lists/maps are not Sigma)");
                goto out;
            }
            if (is_null(e)) {
                rej(d, e, "null inside a value list (spec: null must not appear in a list)");
                goto out;
            }
            struct sg_rawval rv = { 0 };
            rv.s = node_str(e, &rv.len);
            rv.plain = is_plain(e);
            if (!rv.s || SG_PUSH(vals, rv) < 0) {
                free(rv.s);
                rej(d, e, "out of memory");
                goto out;
            }
        }
    } else if (vn && fy_node_get_type(vn) == FYNT_MAPPING) {
        rej(d, vn, "a field value may not be a map");
        goto out;
    } else {
        struct sg_rawval rv = { 0 };
        if (!is_null(vn)) {
            rv.s = node_str(vn, &rv.len);
            rv.plain = is_plain(vn);
            if (!rv.s) {
                rej(d, vn, "out of memory");
                goto out;
            }
        }
        if (SG_PUSH(vals, rv) < 0) {
            free(rv.s);
            rej(d, vn, "out of memory");
            goto out;
        }
    }
    if (is_list && vals.n == 0) {
        /* pySigma: an empty list is a null test */
        struct sg_rawval rv = { 0 };
        if (SG_PUSH(vals, rv) < 0)
            goto out;
    }
    for (size_t i = 0; i < nmods; i++)
        if (mods[i] == SG_M_ALL && !is_list) {
            rej(d, kn, "modifier 'all' on a single value (spec: only for value lists)");
            goto out;
        }
    char err[256] = "";
    if (wk__sg_item_compile(d->l, &it, mods, nmods, vals.v, vals.n, err, sizeof(err)) < 0) {
        rej(d, vn ? vn : kn, "%s", err[0] ? err : "out of memory");
        goto out;
    }
    if (SG_PUSH(alt->items, it) < 0) {
        rej(d, kn, "out of memory");
        goto out;
    }
    memset(&it, 0, sizeof(it));
out:
    for (size_t i = 0; i < vals.n; i++)
        free(vals.v[i].s);
    free(vals.v);
    wk__sg_item_fini(&it);
}

static void parse_map_alt(struct doc *d, struct sg_sel *sel, struct fy_node *map)
{
    struct sg_alt alt = { 0 };
    void *it = NULL;
    struct fy_node_pair *p;
    while (!d->failed && (p = fy_node_mapping_iterate(map, &it)))
        parse_entry(d, &alt, fy_node_pair_key(p), fy_node_pair_value(p));
    if (!d->failed && SG_PUSH(sel->alts, alt) == 0)
        return;
    for (size_t i = 0; i < alt.items.n; i++)
        wk__sg_item_fini(&alt.items.v[i]);
    free(alt.items.v);
}

/* Keyword values (a scalar or a list of scalars) as one keyword item. */
static void parse_keywords(struct doc *d, struct sg_sel *sel, struct fy_node *vn)
{
    struct sg_alt alt = { 0 };
    parse_entry(d, &alt, NULL, vn);
    if (!d->failed && SG_PUSH(sel->alts, alt) == 0)
        return;
    for (size_t i = 0; i < alt.items.n; i++)
        wk__sg_item_fini(&alt.items.v[i]);
    free(alt.items.v);
}

static void parse_selection(struct doc *d, struct sg_rule *r, struct fy_node *kn,
                            struct fy_node *vn)
{
    struct sg_sel sel = { 0 };
    sel.name = node_str(kn, NULL);
    pos_of(kn, &sel.line, &sel.col);
    if (!sel.name) {
        rej(d, kn, "search identifiers must be strings");
        return;
    }
    if (!vn || is_null(vn)) {
        rej(d, kn, "search identifier '%s' is empty", sel.name);
    } else if (fy_node_get_type(vn) == FYNT_MAPPING) {
        parse_map_alt(d, &sel, vn);
    } else if (fy_node_get_type(vn) == FYNT_SEQUENCE) {
        void *it = NULL;
        struct fy_node *e;
        int nmaps = 0, nscalars = 0;
        while ((e = fy_node_sequence_iterate(vn, &it)))
            fy_node_get_type(e) == FYNT_MAPPING ? nmaps++ : nscalars++;
        if (nmaps && nscalars) {
            rej(d, vn, "search identifier '%s' mixes maps and keywords in one list", sel.name);
        } else if (nmaps) {
            it = NULL;
            while (!d->failed && (e = fy_node_sequence_iterate(vn, &it)))
                parse_map_alt(d, &sel, e);
        } else {
            parse_keywords(d, &sel, vn);
        }
    } else {
        parse_keywords(d, &sel, vn);
    }
    if (!d->failed && SG_PUSH(r->sels, sel) == 0)
        return;
    for (size_t i = 0; i < sel.alts.n; i++) {
        for (size_t j = 0; j < sel.alts.v[i].items.n; j++)
            wk__sg_item_fini(&sel.alts.v[i].items.v[j]);
        free(sel.alts.v[i].items.v);
    }
    free(sel.alts.v);
    free(sel.name);
}

/* ---- the condition grammar ------------------------------------------------------------------
 * or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | primary
 * primary := "(" or ")" | ("1"|"any"|"all") "of" (them|PATTERN) | IDENT
 * Tokens split on word boundaries (pySigma's `notepad` = `not epad` quirk is not copied).
 */
struct cparse {
    struct doc *d;
    struct sg_rule *r;
    struct fy_node *node;
    const char *s, *p;
    char tok[256];
    int kind; /* 0 end, 1 word, 2 '(', 3 ')', 4 error */
};

static void cnext(struct cparse *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')
        c->p++;
    c->tok[0] = 0;
    if (!*c->p) {
        c->kind = 0;
    } else if (*c->p == '(' || *c->p == ')') {
        c->kind = *c->p == '(' ? 2 : 3;
        c->tok[0] = *c->p++;
        c->tok[1] = 0;
    } else {
        size_t n = 0;
        while (*c->p && (*c->p == '_' || *c->p == '-' || *c->p == '*' || *c->p == '.' ||
                         (*c->p >= '0' && *c->p <= '9') || (*c->p >= 'a' && *c->p <= 'z') ||
                         (*c->p >= 'A' && *c->p <= 'Z'))) {
            if (n + 1 < sizeof(c->tok))
                c->tok[n++] = *c->p;
            c->p++;
        }
        c->tok[n] = 0;
        if (n == 0) {
            c->kind = 4;
            c->tok[0] = *c->p;
            c->tok[1] = 0;
        } else {
            c->kind = 1;
        }
    }
}

void wk__sg_cond_free(struct sg_cond *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nkids; i++)
        wk__sg_cond_free(c->kids[i]);
    free(c->kids);
    free(c);
}

static struct sg_cond *mk(uint8_t op)
{
    struct sg_cond *c = calloc(1, sizeof(*c));
    if (c)
        c->op = op;
    return c;
}

static int kid(struct sg_cond *c, struct sg_cond *k)
{
    struct sg_cond **nk = realloc(c->kids, (c->nkids + 1) * sizeof(*nk));
    if (!nk) {
        wk__sg_cond_free(k);
        return -ENOMEM;
    }
    c->kids = nk;
    c->kids[c->nkids++] = k;
    return 0;
}

static bool glob_ident(const char *pat, const char *s)
{
    if (*pat == '*') {
        for (;; s++) {
            if (glob_ident(pat + 1, s))
                return true;
            if (!*s)
                return false;
        }
    }
    if (!*pat)
        return !*s;
    return *s == *pat && glob_ident(pat + 1, s + 1);
}

static struct sg_cond *c_or(struct cparse *c);

static struct sg_cond *c_primary(struct cparse *c)
{
    struct doc *d = c->d;
    if (c->kind == 2) {
        cnext(c);
        struct sg_cond *e = c_or(c);
        if (!e)
            return NULL;
        if (c->kind != 3) {
            rej(d, c->node, "condition: expected ')' near '%s'", c->kind ? c->tok : "end");
            wk__sg_cond_free(e);
            return NULL;
        }
        cnext(c);
        return e;
    }
    if (c->kind != 1) {
        if (c->kind == 4 && c->tok[0] == '|')
            rej(d, c->node,
                "condition: legacy aggregation/near pipe syntax '|' (removed in Sigma 2.0; "
                "write a correlation rule)");
        else
            rej(d, c->node, "condition: unexpected '%s'", c->kind ? c->tok : "end");
        return NULL;
    }
    if (!strcmp(c->tok, "and") || !strcmp(c->tok, "or") || !strcmp(c->tok, "of") ||
        !strcmp(c->tok, "them")) {
        rej(d, c->node, "condition: unexpected '%s'", c->tok);
        return NULL;
    }
    /* quantifier? look ahead for "of" */
    const char *save = c->p;
    char word[256];
    snprintf(word, sizeof(word), "%s", c->tok);
    cnext(c);
    if (c->kind == 1 && !strcmp(c->tok, "of")) {
        bool all;
        if (!strcmp(word, "1") || !strcmp(word, "any"))
            all = false;
        else if (!strcmp(word, "all"))
            all = true;
        else {
            rej(d, c->node, "condition: quantifier '%s of' (only '1 of', 'any of', 'all of')",
                word);
            return NULL;
        }
        cnext(c);
        if (c->kind != 1) {
            rej(d, c->node, "condition: expected a pattern or 'them' after 'of'");
            return NULL;
        }
        bool them = !strcmp(c->tok, "them");
        struct sg_cond *e = mk(all ? SG_C_AND : SG_C_OR);
        if (!e)
            return NULL;
        for (size_t i = 0; i < c->r->sels.n; i++) {
            const char *nm = c->r->sels.v[i].name;
            if (them ? nm[0] != '_' : glob_ident(c->tok, nm)) {
                struct sg_cond *s = mk(SG_C_SEL);
                if (!s || kid(e, s) < 0) {
                    wk__sg_cond_free(e);
                    return NULL;
                }
                s->sel = (uint32_t)i;
            }
        }
        if (e->nkids == 0) {
            rej(d, c->node, "condition: '%s of %s' matches no search identifier", word, c->tok);
            wk__sg_cond_free(e);
            return NULL;
        }
        cnext(c);
        return e;
    }
    (void)save;
    for (size_t i = 0; i < c->r->sels.n; i++) {
        if (!strcmp(c->r->sels.v[i].name, word)) {
            struct sg_cond *s = mk(SG_C_SEL);
            if (s)
                s->sel = (uint32_t)i;
            return s;
        }
    }
    rej(d, c->node, "condition: unknown search identifier '%s'", word);
    return NULL;
}

static struct sg_cond *c_not(struct cparse *c)
{
    if (c->kind == 1 && !strcmp(c->tok, "not")) {
        cnext(c);
        struct sg_cond *k = c_not(c);
        if (!k)
            return NULL;
        struct sg_cond *n = mk(SG_C_NOT);
        if (!n || kid(n, k) < 0) {
            free(n);
            return NULL;
        }
        return n;
    }
    return c_primary(c);
}

static struct sg_cond *c_bin(struct cparse *c, const char *op, uint8_t code,
                             struct sg_cond *(*sub)(struct cparse *))
{
    struct sg_cond *l = sub(c);
    if (!l || !(c->kind == 1 && !strcmp(c->tok, op)))
        return l;
    struct sg_cond *n = mk(code);
    if (!n || kid(n, l) < 0) {
        free(n);
        return NULL;
    }
    while (c->kind == 1 && !strcmp(c->tok, op)) {
        cnext(c);
        struct sg_cond *r = sub(c);
        if (!r || kid(n, r) < 0) {
            wk__sg_cond_free(n);
            return NULL;
        }
    }
    return n;
}

static struct sg_cond *c_and(struct cparse *c)
{
    return c_bin(c, "and", SG_C_AND, c_not);
}

static struct sg_cond *c_or(struct cparse *c)
{
    return c_bin(c, "or", SG_C_OR, c_and);
}

static struct sg_cond *parse_condition(struct doc *d, struct sg_rule *r, struct fy_node *n,
                                       const char *text)
{
    struct cparse c = { .d = d, .r = r, .node = n, .s = text, .p = text };
    cnext(&c);
    struct sg_cond *e = c_or(&c);
    if (e && c.kind != 0) {
        if (c.kind == 4 && c.tok[0] == '|')
            rej(d, n, "condition: legacy aggregation/near pipe syntax '|' (removed in Sigma "
                      "2.0; write a correlation rule)");
        else
            rej(d, n, "condition: unexpected '%s' after the expression", c.tok);
        wk__sg_cond_free(e);
        return NULL;
    }
    if (!e && !d->failed)
        rej(d, n, "out of memory");
    return e;
}

/* ---- documents ------------------------------------------------------------------------------ */
void wk__sg_rule_free(struct sg_rule *r)
{
    if (!r)
        return;
    free(r->file);
    free(r->title), free(r->id), free(r->name), free(r->status), free(r->level);
    free(r->description), free(r->author), free(r->license), free(r->date);
    free(r->ls_product), free(r->ls_service), free(r->ls_category);
    for (size_t i = 0; i < r->tags.n; i++)
        free(r->tags.v[i]);
    free(r->tags.v);
    for (size_t i = 0; i < r->references.n; i++)
        free(r->references.v[i]);
    free(r->references.v);
    for (size_t i = 0; i < r->falsepositives.n; i++)
        free(r->falsepositives.v[i]);
    free(r->falsepositives.v);
    for (size_t i = 0; i < r->fields.n; i++)
        free(r->fields.v[i]);
    free(r->fields.v);
    for (size_t i = 0; i < r->sels.n; i++) {
        struct sg_sel *s = &r->sels.v[i];
        for (size_t a = 0; a < s->alts.n; a++) {
            for (size_t j = 0; j < s->alts.v[a].items.n; j++)
                wk__sg_item_fini(&s->alts.v[a].items.v[j]);
            free(s->alts.v[a].items.v);
        }
        free(s->alts.v);
        free(s->name);
    }
    free(r->sels.v);
    wk__sg_cond_free(r->cond);
    struct sg_corr *c = &r->corr;
    for (size_t i = 0; i < c->refs.n; i++)
        free(c->refs.v[i]);
    free(c->refs.v);
    free(c->rules.v);
    for (size_t i = 0; i < c->group_by.n; i++)
        free(c->group_by.v[i]);
    free(c->group_by.v);
    for (size_t i = 0; i < c->aliases.n; i++) {
        struct sg_alias *a = &c->aliases.v[i];
        free(a->name);
        for (size_t j = 0; j < a->rule_refs.n; j++)
            free(a->rule_refs.v[j]), free(a->fields.v[j]);
        free(a->rule_refs.v);
        free(a->fields.v);
    }
    free(c->aliases.v);
    free(c->field);
    free(c->gkeys);
    free(r->feeds.v);
    for (size_t i = 0; i < r->filter_refs.n; i++)
        free(r->filter_refs.v[i]);
    free(r->filter_refs.v);
    free(r->filters.v);
    free(r->attack_json);
    free(r->rule_json);
    free(r);
}

static int64_t parse_timespan(const char *s)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n <= 0 || end[0] == 0 || end[1] != 0)
        return -1;
    int64_t unit;
    switch (*end) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return -1;
    }
    if (n > INT64_MAX / 1000000000 / unit)
        return -1;
    return n * unit * 1000000000;
}

static void parse_correlation(struct doc *d, struct sg_rule *r, struct fy_node *cn)
{
    struct sg_corr *c = &r->corr;
    r->is_corr = true;
    if (fy_node_get_type(cn) != FYNT_MAPPING) {
        rej(d, cn, "'correlation' must be a map");
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(cn, &it))) {
        if (!(key_is(p, "type") || key_is(p, "rules") || key_is(p, "group-by") ||
              key_is(p, "timespan") || key_is(p, "condition") || key_is(p, "aliases") ||
              key_is(p, "generate"))) {
            size_t len;
            const char *k = fy_node_get_scalar(fy_node_pair_key(p), &len);
            rej(d, fy_node_pair_key(p), "unsupported correlation key '%.*s'", (int)len,
                k ? k : "");
            return;
        }
    }
    char *type = get_str(d, cn, "type", true);
    if (!type)
        return;
    static const char *const types[] = { "event_count", "value_count", "temporal",
                                         "temporal_ordered", "value_sum", "value_avg" };
    c->type = 255;
    for (size_t i = 0; i < WK_ARRAY_SIZE(types); i++)
        if (!strcmp(type, types[i]))
            c->type = (uint8_t)i;
    if (c->type == 255) {
        rej(d, map_get(cn, "type"), "unsupported correlation type '%s'", type);
        free(type);
        return;
    }
    free(type);
    get_strlist(d, cn, "rules", &c->refs);
    if (!d->failed && c->refs.n == 0)
        rej(d, cn, "correlation without 'rules'");
    get_strlist(d, cn, "group-by", &c->group_by);
    char *ts = get_str(d, cn, "timespan", true);
    if (ts) {
        c->timespan_ns = parse_timespan(ts);
        if (c->timespan_ns < 0)
            rej(d, map_get(cn, "timespan"), "bad timespan '%s' (want <n>s|m|h|d|w)", ts);
        free(ts);
    }
    struct fy_node *gen = map_get(cn, "generate");
    if (gen) {
        size_t len;
        const char *g = fy_node_get_scalar(gen, &len);
        if (g && len == 4 && !memcmp(g, "true", 4))
            c->generate = true;
        else if (!(g && len == 5 && !memcmp(g, "false", 5)))
            rej(d, gen, "'generate' must be true or false");
    }
    struct fy_node *cond = map_get(cn, "condition");
    if (!cond) {
        if (c->type == SG_CT_TEMPORAL || c->type == SG_CT_TEMPORAL_ORDERED)
            c->default_cond = true;
        else
            rej(d, cn, "correlation type needs a 'condition'");
    } else if (fy_node_get_type(cond) != FYNT_MAPPING) {
        rej(d, cond, "correlation condition must be a map (extended string conditions are "
                     "a pySigma extension, not supported)");
    } else {
        it = NULL;
        int nops = 0;
        while (!d->failed && (p = fy_node_mapping_iterate(cond, &it))) {
            struct fy_node *v = fy_node_pair_value(p);
            if (key_is(p, "field")) {
                c->field = node_str(v, NULL);
                if (!c->field)
                    rej(d, v, "condition field must be a string");
                continue;
            }
            char *vs = node_str(v, NULL);
            char *end = NULL;
            double x = vs ? strtod(vs, &end) : 0;
            bool ok = vs && end != vs && *end == 0;
            free(vs);
            if (!ok) {
                rej(d, v, "correlation condition value must be a number");
                break;
            }
            nops++;
            if (key_is(p, "gt"))
                c->has_lo = true, c->lo = x, c->lo_incl = false;
            else if (key_is(p, "gte"))
                c->has_lo = true, c->lo = x, c->lo_incl = true;
            else if (key_is(p, "lt"))
                c->has_hi = true, c->hi = x, c->hi_incl = false;
            else if (key_is(p, "lte"))
                c->has_hi = true, c->hi = x, c->hi_incl = true;
            else if (key_is(p, "eq"))
                c->has_lo = c->has_hi = c->lo_incl = c->hi_incl = c->eq = true, c->lo = c->hi = x;
            else {
                size_t len;
                const char *k = fy_node_get_scalar(fy_node_pair_key(p), &len);
                rej(d, fy_node_pair_key(p), "unsupported correlation condition operator '%.*s'",
                    (int)len, k ? k : "");
            }
        }
        if (!d->failed && nops == 0)
            rej(d, cond, "correlation condition without an operator (gt/gte/lt/lte/eq)");
        if (!d->failed && nops > 2)
            rej(d, cond, "correlation condition: at most two operators (a range)");
    }
    if (!d->failed && (c->type == SG_CT_VALUE_COUNT || c->type == SG_CT_VALUE_SUM ||
                       c->type == SG_CT_VALUE_AVG) && !c->field)
        rej(d, cond ? cond : cn, "this correlation type needs 'condition.field'");
    struct fy_node *al = map_get(cn, "aliases");
    if (al && !d->failed) {
        if (fy_node_get_type(al) != FYNT_MAPPING) {
            rej(d, al, "'aliases' must be a map");
            return;
        }
        it = NULL;
        while (!d->failed && (p = fy_node_mapping_iterate(al, &it))) {
            struct sg_alias a = { 0 };
            a.name = node_str(fy_node_pair_key(p), NULL);
            struct fy_node *m = fy_node_pair_value(p);
            if (!a.name || fy_node_get_type(m) != FYNT_MAPPING) {
                free(a.name);
                rej(d, m, "an alias maps rule names to field names");
                return;
            }
            void *it2 = NULL;
            struct fy_node_pair *q;
            while ((q = fy_node_mapping_iterate(m, &it2))) {
                char *rr = node_str(fy_node_pair_key(q), NULL);
                char *ff = node_str(fy_node_pair_value(q), NULL);
                if (!rr || !ff || SG_PUSH(a.rule_refs, rr) < 0 || SG_PUSH(a.fields, ff) < 0) {
                    free(rr), free(ff);
                    rej(d, q ? fy_node_pair_key(q) : m, "bad alias entry");
                    break;
                }
            }
            if (SG_PUSH(c->aliases, a) < 0)
                rej(d, m, "out of memory");
        }
    }
}

static void parse_logsource(struct doc *d, struct sg_rule *r, struct fy_node *ls)
{
    if (!ls || fy_node_get_type(ls) != FYNT_MAPPING) {
        rej(d, ls, "'logsource' must be a map");
        return;
    }
    r->ls_product = get_str(d, ls, "product", false);
    r->ls_service = get_str(d, ls, "service", false);
    r->ls_category = get_str(d, ls, "category", false);
    if (!d->failed && !r->ls_product && !r->ls_service && !r->ls_category)
        rej(d, ls, "logsource needs product, service or category");
}

static bool ls_value_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The logsource mappings a rule's logsource selects: every key the rule gives is equal. */
static bool ls_selects(const struct sg_rule *r, const struct sg_logsource *m)
{
    if (r->ls_product && !ls_value_eq(r->ls_product, m->product))
        return false;
    if (r->ls_service && !ls_value_eq(r->ls_service, m->service))
        return false;
    if (r->ls_category && !ls_value_eq(r->ls_category, m->category))
        return false;
    /* a mapping keyed by a category/service only serves rules that name it */
    if (m->category && !r->ls_category)
        return false;
    if (m->service && !r->ls_service)
        return false;
    return true;
}

/* Rename fields through the logsource's field map (the first selected mapping's). */
static void map_fields(struct wk_rule_loader *l, struct sg_rule *r)
{
    for (size_t k = 0; k < l->ls.n; k++) {
        struct sg_logsource *m = &l->ls.v[k];
        if (!ls_selects(r, m) || m->fields.n == 0)
            continue;
        for (size_t s = 0; s < r->sels.n; s++)
            for (size_t a = 0; a < r->sels.v[s].alts.n; a++)
                for (size_t i = 0; i < r->sels.v[s].alts.v[a].items.n; i++) {
                    struct sg_item *it = &r->sels.v[s].alts.v[a].items.v[i];
                    for (size_t f = 0; it->field && f < m->fields.n; f++) {
                        if (strcmp(it->field, m->fields.v[f].from))
                            continue;
                        char *nf = strdup(m->fields.v[f].to);
                        if (nf) {
                            free(it->field);
                            it->field = nf;
                            it->key = wk_key_init(it->field);
                        }
                        break;
                    }
                }
        return;
    }
}

static bool ls_mapped(const struct wk_rule_loader *l, struct doc *d, const struct sg_rule *r,
                      struct fy_node *root)
{
    for (size_t k = 0; k < l->ls.n; k++)
        if (ls_selects(r, &l->ls.v[k]))
            return true;
    rej(d, map_get(root, "logsource"),
        "logsource {product: %s, service: %s, category: %s} has no mapping in "
        "logsources.yaml",
        r->ls_product ? r->ls_product : "-", r->ls_service ? r->ls_service : "-",
        r->ls_category ? r->ls_category : "-");
    return false;
}

/* A Sigma meta filter (filters spec 2.0.0): title, id, logsource, and
 * filter: {rules: ids/names, <search identifiers>, condition: one string}. Which rules it
 * applies to is resolved when the ruleset is built (compile.c). */
static void parse_filter(struct doc *d, struct sg_rule *r, struct fy_node *root,
                         struct fy_node *flt)
{
    r->is_filter = true;
    r->title = get_str(d, root, "title", true);
    r->id = get_str(d, root, "id", false);
    r->name = get_str(d, root, "name", false);
    r->description = get_str(d, root, "description", false);
    r->author = get_str(d, root, "author", false);
    r->date = get_str(d, root, "date", false);
    if (d->failed)
        return;
    parse_logsource(d, r, map_get(root, "logsource"));
    if (d->failed)
        return;
    if (fy_node_get_type(flt) != FYNT_MAPPING) {
        rej(d, flt, "'filter' must be a map");
        return;
    }
    struct fy_node *rules = map_get(flt, "rules");
    if (!rules || is_null(rules)) {
        rej(d, flt, "filter without 'rules' (rule ids or names, or 'any')");
        return;
    }
    if (fy_node_get_type(rules) == FYNT_SCALAR) {
        char *s = node_str(rules, NULL);
        if (s && (!strcasecmp(s, "any") || !strcasecmp(s, "all"))) {
            r->filter_any = true;
            free(s);
        } else if (!s || SG_PUSH(r->filter_refs, s) < 0) {
            free(s);
            rej(d, rules, "out of memory");
            return;
        }
    } else if (fy_node_get_type(rules) == FYNT_SEQUENCE) {
        get_strlist(d, flt, "rules", &r->filter_refs);
        if (d->failed)
            return;
        r->filter_any = r->filter_refs.n == 0;
    } else {
        rej(d, rules, "filter 'rules' must be a rule id or name, a list of them, or 'any'");
        return;
    }
    struct fy_node *condn = NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    while (!d->failed && (p = fy_node_mapping_iterate(flt, &it))) {
        if (key_is(p, "rules"))
            continue;
        if (key_is(p, "condition")) {
            condn = fy_node_pair_value(p);
            continue;
        }
        parse_selection(d, r, fy_node_pair_key(p), fy_node_pair_value(p));
    }
    if (d->failed)
        return;
    if (!condn || is_null(condn)) {
        rej(d, flt, "filter without 'condition'");
        return;
    }
    if (fy_node_get_type(condn) != FYNT_SCALAR) {
        rej(d, condn, "filter 'condition' must be one string (filters spec, pySigma)");
        return;
    }
    char *cs = node_str(condn, NULL);
    r->cond = cs ? parse_condition(d, r, condn, cs) : NULL;
    free(cs);
    if (d->failed)
        return;
    /* no mapping check: a filter's logsource may be broader than any mapping ({product:
     * linux}); the build rejects a filter that applies to no loaded rule. Field renames
     * come from the mapping its logsource selects, if one does. */
    map_fields(d->l, r);
}

static const char *const known_keys[] = {
    "title", "id", "name", "related", "taxonomy", "status", "description", "license",
    "author", "references", "date", "modified", "logsource", "detection", "fields",
    "falsepositives", "level", "tags", "scope", "correlation",
};

static void parse_document(struct doc *d, struct fy_node *root, unsigned docline)
{
    struct wk_rule_loader *l = d->l;
    if (!root || fy_node_get_type(root) != FYNT_MAPPING) {
        unsigned line, col;
        pos_of(root, &line, &col);
        char msg[128];
        snprintf(msg, sizeof(msg), "a rule document must be a YAML map");
        (void)add_reject(l, d->file, line ? line : docline, col, msg);
        return;
    }
    struct sg_rule *r = calloc(1, sizeof(*r));
    if (!r) {
        rej(d, root, "out of memory");
        return;
    }
    r->file = strdup(d->file);
    unsigned col;
    pos_of(root, &r->line, &col);
    (void)known_keys;
    struct fy_node *det = map_get(root, "detection");
    struct fy_node *corr = map_get(root, "correlation");
    struct fy_node *flt = map_get(root, "filter");
    if (flt && (det || corr)) {
        rej(d, root, "document has 'filter' and '%s'", det ? "detection" : "correlation");
        goto out;
    }
    if (flt) {
        parse_filter(d, r, root, flt);
        goto out;
    }
    if (!det && !corr) {
        rej(d, root, "document has neither 'detection' nor 'correlation'");
        goto out;
    }
    if (det && corr) {
        rej(d, root, "document has both 'detection' and 'correlation'");
        goto out;
    }
    r->title = get_str(d, root, "title", true);
    r->id = get_str(d, root, "id", false);
    r->name = get_str(d, root, "name", false);
    r->status = get_str(d, root, "status", false);
    r->level = get_str(d, root, "level", false);
    r->description = get_str(d, root, "description", false);
    r->author = get_str(d, root, "author", false);
    r->license = get_str(d, root, "license", false);
    r->date = get_str(d, root, "date", false);
    get_strlist(d, root, "tags", &r->tags);
    get_strlist(d, root, "references", &r->references);
    get_strlist(d, root, "falsepositives", &r->falsepositives);
    get_strlist(d, root, "fields", &r->fields);
    if (d->failed)
        goto out;
    if (r->level) {
        static const char *const levels[] = { "informational", "low", "medium", "high",
                                              "critical" };
        bool ok = false;
        for (size_t i = 0; i < WK_ARRAY_SIZE(levels); i++)
            ok = ok || !strcmp(r->level, levels[i]);
        if (!ok) {
            rej(d, map_get(root, "level"), "unknown level '%s'", r->level);
            goto out;
        }
    }
    if (corr) {
        parse_correlation(d, r, corr);
        goto out;
    }
    parse_logsource(d, r, map_get(root, "logsource"));
    if (d->failed)
        goto out;
    if (fy_node_get_type(det) != FYNT_MAPPING) {
        rej(d, det, "'detection' must be a map");
        goto out;
    }
    struct fy_node *condn = NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    while (!d->failed && (p = fy_node_mapping_iterate(det, &it))) {
        if (key_is(p, "condition")) {
            condn = fy_node_pair_value(p);
            continue;
        }
        if (key_is(p, "timeframe")) {
            rej(d, fy_node_pair_key(p),
                "legacy 'detection.timeframe' (Sigma 1.x aggregation; use a correlation rule)");
            break;
        }
        parse_selection(d, r, fy_node_pair_key(p), fy_node_pair_value(p));
    }
    if (d->failed)
        goto out;
    if (!condn || is_null(condn)) {
        rej(d, det, "detection without 'condition'");
        goto out;
    }
    if (fy_node_get_type(condn) == FYNT_SCALAR) {
        char *cs = node_str(condn, NULL);
        r->cond = cs ? parse_condition(d, r, condn, cs) : NULL;
        free(cs);
    } else if (fy_node_get_type(condn) == FYNT_SEQUENCE) {
        /* a list of conditions is ORed */
        r->cond = mk(SG_C_OR);
        it = NULL;
        struct fy_node *e;
        while (r->cond && !d->failed && (e = fy_node_sequence_iterate(condn, &it))) {
            char *cs = node_str(e, NULL);
            struct sg_cond *k = cs ? parse_condition(d, r, e, cs) : NULL;
            free(cs);
            if (!k || kid(r->cond, k) < 0)
                rej(d, e, "bad condition");
        }
    } else {
        rej(d, condn, "'condition' must be a string or a list of strings");
    }
    if (d->failed)
        goto out;
    /* logsource mapping */
    if (!ls_mapped(l, d, r, root))
        goto out;
    map_fields(l, r);
out:
    if (!d->failed && SG_PUSH(l->rules, r) == 0)
        return;
    if (!d->failed)
        rej(d, root, "out of memory");
    wk__sg_rule_free(r);
}

static void diag_drop(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag, (void)user, (void)buf, (void)len;
}

/* Parse a YAML file; call fn for each document. Syntax errors become rejections. */
static int yaml_file(struct wk_rule_loader *l, const char *path,
                     void (*fn)(struct doc *, struct fy_node *, unsigned, void *), void *arg)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_drop;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag)
        return -ENOMEM;
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG |
                                         FYPCF_DEFAULT_VERSION_1_2,
                                .diag = diag };
    struct fy_parser *fyp = fy_parser_create(&cfg);
    int n = 0;
    if (!fyp) {
        fy_diag_unref(diag);
        return -ENOMEM;
    }
    if (fy_parser_set_input_file(fyp, path) != 0) {
        fy_parser_destroy(fyp);
        fy_diag_unref(diag);
        return -ENOENT;
    }
    struct fy_document *fyd;
    while ((fyd = fy_parse_load_document(fyp))) {
        struct doc d = { l, path, false };
        fn(&d, fy_document_root(fyd), 1, arg);
        fy_parse_document_destroy(fyp, fyd);
        n++;
    }
    if (fy_diag_got_error(diag)) {
        void *it = NULL;
        struct fy_diag_error *e = fy_diag_errors_iterate(diag, &it);
        char msg[512];
        snprintf(msg, sizeof(msg), "YAML syntax: %s", e && e->msg ? e->msg : "parse error");
        (void)add_reject(l, path, e ? (unsigned)e->line : 0,
                         e ? (unsigned)e->column : 0, msg);
        n = n ? n : 0;
    }
    fy_parser_destroy(fyp);
    /* collected errors are only released when collection is turned off */
    fy_diag_set_collect_errors(diag, false);
    fy_diag_unref(diag);
    return n;
}

static void rule_doc(struct doc *d, struct fy_node *root, unsigned line, void *arg)
{
    (void)arg;
    if (!root)
        return; /* an empty document (e.g. a trailing ---) */
    parse_document(d, root, line);
}

/* ---- public: loader ------------------------------------------------------------------------ */
int wk_rule_loader_new(struct wk_rule_loader **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void wk__sg_logsource_fini(struct sg_logsource *ls)
{
    free(ls->product), free(ls->service), free(ls->category), free(ls->keyword_join_type);
    free(ls->dispatch);
    for (size_t i = 0; i < ls->buckets.n; i++)
        free(ls->buckets.v[i].val), free(ls->buckets.v[i].rules.v);
    free(ls->buckets.v);
    free(ls->any.v);
    for (size_t i = 0; i < ls->match.n; i++) {
        free(ls->match.v[i].field);
        for (size_t j = 0; j < ls->match.v[i].values.n; j++)
            free(ls->match.v[i].values.v[j]);
        free(ls->match.v[i].values.v);
    }
    free(ls->match.v);
    for (size_t i = 0; i < ls->fields.n; i++)
        free(ls->fields.v[i].from), free(ls->fields.v[i].to);
    free(ls->fields.v);
    free(ls->rules.v);
}

struct wk_rule_loader *wk_rule_loader_free(struct wk_rule_loader *l)
{
    if (!l)
        return NULL;
    for (size_t i = 0; i < l->rules.n; i++)
        wk__sg_rule_free(l->rules.v[i]);
    free(l->rules.v);
    for (size_t i = 0; i < l->ls.n; i++)
        wk__sg_logsource_fini(&l->ls.v[i]);
    free(l->ls.v);
    for (size_t i = 0; i < l->ph.n; i++) {
        free(l->ph.v[i].name);
        for (size_t j = 0; j < l->ph.v[i].values.n; j++)
            free(l->ph.v[i].values.v[j]);
        free(l->ph.v[i].values.v);
    }
    free(l->ph.v);
    for (size_t i = 0; i < l->rejects.n; i++)
        free(l->rejects.v[i].file), free(l->rejects.v[i].msg);
    free(l->rejects.v);
    free(l);
    return NULL;
}

size_t wk_rule_loader_nrejects(const struct wk_rule_loader *l)
{
    return l->rejects.n;
}

const struct wk_rule_reject *wk_rule_loader_reject(const struct wk_rule_loader *l, size_t i)
{
    return i < l->rejects.n ? &l->rejects.v[i] : NULL;
}

static void ls_doc(struct doc *d, struct fy_node *root, unsigned line, void *arg)
{
    (void)line, (void)arg;
    struct fy_node *list = root ? map_get(root, "logsources") : NULL;
    if (!list || fy_node_get_type(list) != FYNT_SEQUENCE) {
        rej(d, root, "logsource mapping: expected a 'logsources' list");
        return;
    }
    void *it = NULL;
    struct fy_node *e;
    while (!d->failed && (e = fy_node_sequence_iterate(list, &it))) {
        struct sg_logsource ls = { 0 };
        struct fy_node *lsn = map_get(e, "logsource");
        if (!lsn || fy_node_get_type(lsn) != FYNT_MAPPING) {
            rej(d, e, "logsource mapping entry without a 'logsource' map");
            break;
        }
        ls.product = get_str(d, lsn, "product", false);
        ls.service = get_str(d, lsn, "service", false);
        ls.category = get_str(d, lsn, "category", false);
        struct fy_node *pr = map_get(e, "per_record");
        if (pr) {
            size_t len;
            const char *s = fy_node_get_scalar(pr, &len);
            ls.per_record = s && len == 4 && !memcmp(s, "true", 4);
        }
        ls.keyword_join_type = get_str(d, e, "keyword_argv_record", false);
        ls.dispatch = get_str(d, e, "dispatch", false);
        if (ls.dispatch)
            ls.dkey = wk_key_init(ls.dispatch);
        struct fy_node *m = map_get(e, "match");
        void *it2 = NULL;
        struct fy_node_pair *p;
        while (m && !d->failed && (p = fy_node_mapping_iterate(m, &it2))) {
            struct sg_lsmatch lm = { 0 };
            lm.field = node_str(fy_node_pair_key(p), NULL);
            struct fy_node *v = fy_node_pair_value(p);
            if (v && fy_node_get_type(v) == FYNT_SEQUENCE) {
                void *it3 = NULL;
                struct fy_node *x;
                while ((x = fy_node_sequence_iterate(v, &it3))) {
                    char *s = node_str(x, NULL);
                    for (char *q = s; q && *q; q++)
                        *q = (char)wk__sg_fold[(unsigned char)*q];
                    if (s)
                        (void)SG_PUSH(lm.values, s);
                }
            } else if (v && !is_null(v)) {
                char *s = node_str(v, NULL);
                for (char *q = s; q && *q; q++)
                    *q = (char)wk__sg_fold[(unsigned char)*q];
                if (s)
                    (void)SG_PUSH(lm.values, s);
            }
            if (!lm.field) {
                rej(d, v, "bad match entry");
                break;
            }
            lm.key = wk_key_init(lm.field);
            (void)SG_PUSH(ls.match, lm);
        }
        struct fy_node *f = map_get(e, "fields");
        it2 = NULL;
        while (f && !d->failed && (p = fy_node_mapping_iterate(f, &it2))) {
            struct sg_fieldmap fm = { node_str(fy_node_pair_key(p), NULL),
                                      node_str(fy_node_pair_value(p), NULL) };
            if (!fm.from || !fm.to) {
                free(fm.from), free(fm.to);
                rej(d, fy_node_pair_key(p), "bad field mapping");
                break;
            }
            (void)SG_PUSH(ls.fields, fm);
        }
        if (d->failed || SG_PUSH(d->l->ls, ls) < 0)
            wk__sg_logsource_fini(&ls);
    }
}

int wk_rule_loader_logsources(struct wk_rule_loader *l, const char *path)
{
    size_t before = l->rejects.n;
    int n = yaml_file(l, path, ls_doc, NULL);
    if (n < 0)
        return n;
    l->ls_loaded = true;
    return l->rejects.n > before ? WK_ERULE_SYNTAX : 0;
}

static void ph_doc(struct doc *d, struct fy_node *root, unsigned line, void *arg)
{
    (void)line, (void)arg;
    if (!root || fy_node_get_type(root) != FYNT_MAPPING) {
        rej(d, root, "placeholders: expected a map of name -> list of values");
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while (!d->failed && (p = fy_node_mapping_iterate(root, &it))) {
        struct sg_placeholder ph = { 0 };
        ph.name = node_str(fy_node_pair_key(p), NULL);
        struct fy_node *v = fy_node_pair_value(p);
        struct doc tmp = *d;
        struct fy_node *wrap = NULL;
        (void)wrap;
        if (v && fy_node_get_type(v) == FYNT_SEQUENCE) {
            void *it2 = NULL;
            struct fy_node *x;
            while ((x = fy_node_sequence_iterate(v, &it2))) {
                char *s = node_str(x, NULL);
                if (!s) {
                    rej(d, x, "placeholder values must be strings");
                    break;
                }
                (void)SG_PUSH(ph.values, s);
            }
        } else if (v && fy_node_get_type(v) == FYNT_SCALAR) {
            char *s = node_str(v, NULL);
            if (s)
                (void)SG_PUSH(ph.values, s);
        } else {
            rej(d, v, "placeholder values must be a list of strings");
        }
        (void)tmp;
        if (!ph.name || d->failed || SG_PUSH(d->l->ph, ph) < 0) {
            free(ph.name);
            for (size_t j = 0; j < ph.values.n; j++)
                free(ph.values.v[j]);
            free(ph.values.v);
        }
    }
}

int wk_rule_loader_placeholders(struct wk_rule_loader *l, const char *path)
{
    size_t before = l->rejects.n;
    int n = yaml_file(l, path, ph_doc, NULL);
    if (n < 0)
        return n;
    return l->rejects.n > before ? WK_ERULE_SYNTAX : 0;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int wk_rule_loader_add(struct wk_rule_loader *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode)) {
        size_t before = l->rules.n;
        int n = yaml_file(l, path, rule_doc, NULL);
        if (n < 0)
            return n;
        l->nfiles++;
        return (int)(l->rules.n - before);
    }
    DIR *dir = opendir(path);
    if (!dir)
        return -errno;
    SG_VEC(char *) names = { 0 };
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "samples") ||
            !strcmp(de->d_name, "logsources.yaml") || !strcmp(de->d_name, "placeholders.yaml"))
            continue;
        char *full = NULL;
        if (asprintf(&full, "%s/%s", path, de->d_name) < 0)
            continue;
        if (SG_PUSH(names, full) < 0)
            free(full);
    }
    closedir(dir);
    qsort(names.v, names.n, sizeof(char *), cmpstr); /* stable rule order across runs */
    int total = 0;
    for (size_t i = 0; i < names.n; i++) {
        struct stat s2;
        if (stat(names.v[i], &s2) == 0 &&
            (S_ISDIR(s2.st_mode) || has_suffix(names.v[i], ".yml") ||
             has_suffix(names.v[i], ".yaml"))) {
            int n = wk_rule_loader_add(l, names.v[i]);
            if (n > 0)
                total += n;
        }
        free(names.v[i]);
    }
    free(names.v);
    return total;
}
