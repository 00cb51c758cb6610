/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Differential test: Debian's libauparse (the audit project's own parser) is the oracle.
 * For every event of the corpus files, every field auparse reports must be in our event's
 * matching record with the same raw value (quotes removed) or, for encoded fields, the
 * same decoded text; and auparse's interpretations of ids, syscalls, arches, sockaddrs
 * and errno exits must equal our ENRICHED-style names. libauparse is linked only here.
 */
#include "config.h"

#include <auparse.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../collector/sources/auditd/auditd_private.h"
#include "auditd_util.h"

static const char *const files[] = {
    "audit-userspace/test.log",       "audit-userspace/test2.log",
    "audit-userspace/test3.log",      "audit-userspace/test4.log",
    "beats/auditbeat-chown.log",      "beats/auditbeat-setuid.log",
    "beats/auditbeat-sudo.log",       "beats/auditbeat-userlogin.log",
    "beats/filebeat-module-auditd-audit-cent7-node.log",
    "beats/filebeat-module-auditd-execve-hex-arg.log",
    "beats/filebeat-module-auditd-useradd.log",
    "go-libaudit/auparse__audit-rhel6.log", "go-libaudit/auparse__audit-rhel7.log",
    "go-libaudit/auparse__audit-ubuntu14.log", "go-libaudit/auparse__audit-ubuntu16.log",
    "go-libaudit/auparse__audit-ubuntu17.log", "go-libaudit/root__normal.log",
    "go-libaudit/root__out_of_order.log", "laurel/record-adjntpval.txt",
    "laurel/record-anom-promiscuous.txt", "laurel/record-avc-apparmor.txt",
    "laurel/record-bind-ipv4-bigendian.txt", "laurel/record-connect.txt",
    "laurel/record-execve-long.txt", "laurel/record-execve.txt",
    "laurel/record-login.txt", "laurel/record-nscd.txt",
    "laurel/record-perl-reverse-shell.txt", "laurel/record-ptrace.txt",
    "laurel/record-service-start.txt", "laurel/record-syscall-key.txt",
    "laurel/record-syscall-nullkey.txt", "laurel/record-uringop.txt",
    "laurel/record-weblogic.txt",
};

struct stats {
    unsigned events, records, raw_eq, interp_eq, mismatches;
};

static const struct wk_value *rec_get(const struct wk_event *ev, unsigned rec, const char *name)
{
    struct wk_key k = wk_key_init(name);
    return wk_event_get(ev, rec, &k);
}

static bool val_eq(const struct wk_value *v, const char *s)
{
    return v && v->kind == WK_VAL_STR && v->len == strlen(s) && memcmp(v->u.s, s, v->len) == 0;
}

static void mismatch(struct stats *st, const char *file, uint64_t serial, const char *field,
                     const char *want, const struct wk_value *got)
{
    st->mismatches++;
    if (st->mismatches <= 200)
        fprintf(stderr, "%s serial %llu field %s: auparse '%s', ours '%s'\n", file,
                (unsigned long long)serial, field, want,
                got && got->kind == WK_VAL_STR ? got->u.s : "(absent)");
}

static const struct wk_event *find_event(struct au_collect *c, uint64_t serial, int64_t ts)
{
    struct wk_key ks = wk_key_init("auditd.serial");
    for (int i = 0; i < c->events && i < 256; i++) {
        const struct wk_value *v = wk_event_get(c->copies[i], 0, &ks);
        if (v && v->kind == WK_VAL_INT && (uint64_t)v->u.i == serial &&
            wk_event_ts(c->copies[i]) == ts)
            return c->copies[i];
    }
    return NULL;
}

/* Compare the events of buf (NUL-terminated, at most 256 events: the ones au_collect keeps). */
static void compare_buf(const char *rel, const char *buf, size_t len, struct stats *st)
{
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, rel, buf, len);

    auparse_state_t *au = auparse_init(AUSOURCE_BUFFER, buf);
    WK_ASSERT(au != NULL);
    auparse_set_escape_mode(au, AUPARSE_ESC_RAW);
    while (auparse_next_event(au) > 0) {
        const au_event_t *t = auparse_get_timestamp(au);
        int64_t ts = (int64_t)t->sec * 1000000000LL + (int64_t)t->milli * 1000000LL;
        const struct wk_event *ev = find_event(&c, t->serial, ts);
        if (!ev) {
            mismatch(st, rel, t->serial, "(event)", "present", NULL);
            continue;
        }
        st->events++;
        char seen_types[64][32];
        unsigned seen_n[64], nseen = 0;
        do {
            const char *tn = auparse_get_type_name(au);
            if (!tn || strcmp(tn, "EOE") == 0)
                continue;
            /* the k-th record of this type in our event (auparse may order records of an
             * interleaved event differently from their arrival) */
            unsigned k = 0, j = 0;
            for (; j < nseen && strcmp(seen_types[j], tn) != 0; j++)
                ;
            if (j == nseen && nseen < 64) {
                snprintf(seen_types[nseen], 32, "%s", tn);
                seen_n[nseen++] = 0;
            }
            k = ++seen_n[j];
            unsigned rec = 0;
            const char *item = strcmp(tn, "PATH") == 0 && auparse_find_field(au, "item") ? auparse_get_field_str(au) : NULL;
            for (unsigned r = 1; r <= wk_event_nrecords(ev) && !rec; r++) {
                if (!val_eq(rec_get(ev, r, "type"), tn))
                    continue;
                if (item ? val_eq(rec_get(ev, r, "item"), item) : --k == 0)
                    rec = r; /* PATH records by item number, others by position */
            }
            st->records++;
            if (!rec) {
                mismatch(st, rel, t->serial, "type", tn, NULL);
                continue;
            }
            if (auparse_first_field(au) <= 0)
                continue;
            char names[256][32];
            unsigned nnames = 0;
            do {
                const char *name = auparse_get_field_name(au);
                const char *raw = auparse_get_field_str(au);
                int type = auparse_get_field_type(au);
                if (!name || !raw || strcmp(name, "type") == 0)
                    continue;
                /* EXECVE chunks are folded into aN; msg= is unnested */
                if (strchr(name, '[') || strcmp(name, "msg") == 0)
                    continue;
                if (name[0] >= 'A' && name[0] <= 'Z')
                    continue; /* ENRICHED part: compared through the lowercase field */
                bool dup = false;
                for (unsigned q = 0; q < nnames && !dup; q++)
                    dup = strcmp(names[q], name) == 0;
                if (dup && strcmp(name, "key") != 0)
                    continue; /* a name twice in one record: ours keeps the first */
                if (nnames < 256)
                    snprintf(names[nnames++], 32, "%s", name);
                const struct wk_value *ours = rec_get(ev, rec, name);
                if (type == AUPARSE_TYPE_TTY_DATA && raw[0] != '"') {
                    /* auparse renders keystrokes ("<ret>"); we keep the decoded bytes */
                    char dec[8192];
                    ssize_t dl = wk__au_unhex(raw, strlen(raw) < sizeof(dec) ? strlen(raw) : 0, dec);
                    if (dl >= 0 && ours && ours->len == (size_t)dl && memcmp(ours->u.s, dec, (size_t)dl) == 0)
                        st->raw_eq++;
                    else
                        mismatch(st, rel, t->serial, name, raw, ours);
                    continue;
                }
                const char *interp = auparse_interpret_field(au);
                char want[8192];
                size_t rl = strlen(raw);
                if (rl >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[rl - 1] == raw[0])
                    snprintf(want, sizeof(want), "%.*s", (int)rl - 2, raw + 1);
                else
                    snprintf(want, sizeof(want), "%s", raw);
                if (strcmp(raw, "?") == 0 && type != AUPARSE_TYPE_UNCLASSIFIED) {
                    /* auparse reads "auid=?" as 0 ("root"); we keep "?" */
                    if (val_eq(ours, "?"))
                        st->raw_eq++;
                    else
                        mismatch(st, rel, t->serial, name, "?", ours);
                    continue;
                }
                if (type == AUPARSE_TYPE_ESCAPED_KEY && interp && ours &&
                    ours->kind == WK_VAL_STR && strchr(ours->u.s, 1)) {
                    /* several keys joined by 0x01: auparse lists each as a "key" field */
                    if (strstr(ours->u.s, interp))
                        st->interp_eq++;
                    else
                        mismatch(st, rel, t->serial, name, interp, ours);
                    continue;
                }
                if (strcmp(rel, "laurel/record-avc-apparmor.txt") == 0 && strcmp(name, "info") == 0)
                    continue; /* auparse splits the quoted info="same as current ..." at spaces */
                bool encoded = type == AUPARSE_TYPE_TTY_DATA || type == AUPARSE_TYPE_ESCAPED || type == AUPARSE_TYPE_ESCAPED_FILE ||
                               type == AUPARSE_TYPE_ESCAPED_KEY || type == AUPARSE_TYPE_PROCTITLE ||
                               (type == AUPARSE_TYPE_UNCLASSIFIED && raw[0] != '"' && interp &&
                                strcmp(interp, raw) != 0 && strcmp(tn, "EXECVE") == 0);
                if (encoded && interp && raw[0] != '"') {
                    if (val_eq(ours, interp))
                        st->interp_eq++;
                    else if (strcmp(name, "key") == 0 && val_eq(ours, want))
                        st->raw_eq++; /* (null) */
                    else
                        mismatch(st, rel, t->serial, name, interp, ours);
                    continue;
                }
                if (val_eq(ours, want))
                    st->raw_eq++;
                else
                    mismatch(st, rel, t->serial, name, want, ours);
                /* the interpreted names */
                const char *upper = NULL;
                char ub[64];
                if (type == AUPARSE_TYPE_UID || type == AUPARSE_TYPE_GID) {
                    size_t i = 0;
                    for (; name[i] && i < sizeof(ub) - 1; i++)
                        ub[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
                    ub[i] = 0;
                    upper = ub;
                } else if (type == AUPARSE_TYPE_SYSCALL) {
                    upper = "SYSCALL";
                } else if (type == AUPARSE_TYPE_ARCH) {
                    upper = "ARCH";
                } else if (type == AUPARSE_TYPE_SOCKADDR) {
                    upper = "SADDR";
                } else if (type == AUPARSE_TYPE_EXIT && raw[0] == '-') {
                    upper = "EXIT";
                }
                if (upper && interp) {
                    const struct wk_value *u = rec_get(ev, rec, upper);
                    if (val_eq(u, interp))
                        st->interp_eq++;
                    else
                        mismatch(st, rel, t->serial, upper, interp, u);
                }
            } while (auparse_next_field(au) > 0);
        } while (auparse_next_record(au) > 0);
    }
    auparse_destroy(au);
    au_collect_fini(&c);
}

static void compare_file(const char *rel, struct stats *st)
{
    size_t len;
    char *buf = au_read_corpus(rel, &len);
    compare_buf(rel, buf, len, st);
    free(buf);
}

WK_TEST(auparse_agrees_on_corpus)
{
    struct stats st = { 0 };
    for (size_t i = 0; i < WK_ARRAY_SIZE(files); i++)
        compare_file(files[i], &st);
    fprintf(stderr, "compared %u events, %u records, %u raw values, %u interpretations\n",
            st.events, st.records, st.raw_eq, st.interp_eq);
    WK_ASSERT_INT_EQ(st.mismatches, 0);
    WK_ASSERT(st.events > 100);
    WK_ASSERT(st.interp_eq > 500);
}

WK_TEST(auparse_agrees_on_product_sample)
{
    /* samples/audit.log (a real auditd 3.0.9, ENRICHED, with real containers: see
     * samples/capture.sh), compared in pieces of at most 200 serials */
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/samples/audit.log", wk_test_srcdir());
    char *buf = wk_test_read_file(path, &len);
    struct stats st = { 0 };
    size_t start = 0, i = 0, nser = 0;
    uint64_t last = UINT64_MAX;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) + 1 : len;
        const char *m = memmem(buf + i, end - i, "msg=audit(", 10);
        const char *colon = m ? memchr(m, ':', (size_t)(buf + end - m)) : NULL;
        uint64_t serial = colon ? strtoull(colon + 1, NULL, 10) : 0;
        if (serial != last && nser == 200) { /* a piece ends between two serials */
            char save = buf[i];
            buf[i] = 0;
            compare_buf("samples/audit.log", buf + start, i - start, &st);
            buf[i] = save;
            start = i;
            nser = 0;
        }
        nser += serial != last;
        last = serial;
        i = end;
    }
    compare_buf("samples/audit.log", buf + start, len - start, &st);
    fprintf(stderr, "sample: compared %u events, %u records, %u raw values, %u interpretations\n",
            st.events, st.records, st.raw_eq, st.interp_eq);
    WK_ASSERT_INT_EQ(st.mismatches, 0);
    WK_ASSERT(st.events > 1000); /* the capture of samples/capture.sh holds ~1,500 */
    WK_ASSERT(st.interp_eq > 10000);
    free(buf);
}
