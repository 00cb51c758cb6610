/* SPDX-License-Identifier: Apache-2.0 */
/* The json-file and cri parsers over the shared corpus (golden outputs), the fast path vs
 * jansson, reassembly, truncation and the resume bookkeeping. */
#include "config.h"

#include "../../collector/sources/clog/clog_private.h"
#include "clog_test_util.h"

WK_TEST(dump)
{
    const char *fmt = getenv("DUMP_FMT"), *file = getenv("DUMP_FILE"), *as = getenv("DUMP_AS");
    if (!fmt || !file)
        return;
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    struct run_out o = {0};
    o.keep_original = getenv("DUMP_ORIG") != NULL;
    run_file(&o, fmt, &opts, file, as);
    fputs(o.text ? o.text : "", stderr);
    free(o.text);
}

/* Messages of a run (the "message" of each event), one per line, via the JSON output. */
static char *messages_of(const char *fmt, const char *rel, const char *as, size_t max_message)
{
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    if (max_message)
        opts.max_message = max_message;
    struct run_out o = {0};
    run_file(&o, fmt, &opts, rel, as);
    char *res = calloc(1, 1);
    size_t rl = 0;
    for (char *line = o.text; line && *line;) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        const char *m;
        char tmp[8192];
        if (strncmp(line, "REJECT", 6) == 0) {
            m = line;
        } else {
            json_t *j = json_loads(line, 0, NULL);
            WK_ASSERT(j != NULL);
            snprintf(tmp, sizeof(tmp), "%s", json_string_value(json_object_get(j, "message")));
            json_decref(j);
            m = tmp;
        }
        res = realloc(res, rl + strlen(m) + 2);
        memcpy(res + rl, m, strlen(m));
        rl += strlen(m);
        res[rl++] = '\n';
        res[rl] = '\0';
        line = nl + 1;
    }
    free(o.text);
    return res;
}

/* The "log" values of a fluent-bit expected-output file, without their trailing "\n". */
static char *expected_logs(const char *rel, const char *member)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", wk_test_corpus(), rel);
    char *buf = wk_test_read_file(path, NULL);
    char *res = calloc(1, 1);
    size_t rl = 0;
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        json_t *j = json_loads(line, JSON_DECODE_ANY, NULL);
        WK_ASSERT(j != NULL);
        const json_t *s = member ? json_object_get(j, member) : j;
        const char *m = json_string_value(s);
        size_t ml = strlen(m);
        if (ml && m[ml - 1] == '\n')
            ml--;
        res = realloc(res, rl + ml + 2);
        memcpy(res + rl, m, ml);
        rl += ml;
        res[rl++] = '\n';
        res[rl] = '\0';
        json_decref(j);
        if (!nl)
            break;
        line = nl + 1;
    }
    free(buf);
    return res;
}

WK_TEST(jsonfile_fluentbit_dockermode)
{
    /* json-file/fluent-bit/tail: dockermode and its split-line variant against the
     * expected outputs shipped with them. */
    char *got = messages_of("json-file", "json-file/fluent-bit/tail/log__dockermode.log", NULL, 0);
    char *exp = expected_logs("json-file/fluent-bit/tail/out__dockermode.out", "log");
    WK_ASSERT_STR_EQ(got, exp);
    free(got);
    free(exp);
    got = messages_of("json-file", "json-file/fluent-bit/tail/log__dockermode_splitted_line.log",
                      NULL, 0);
    exp = expected_logs("json-file/fluent-bit/tail/out__dockermode_splitted_line.out", "log");
    WK_ASSERT_STR_EQ(got, exp);
    free(got);
    free(exp);
    got = messages_of("json-file",
                      "json-file/fluent-bit/tail/log__dockermode_splitted_multiple_lines.log", NULL,
                      0);
    WK_ASSERT_STR_EQ(got, "2020-03-24 Multiple lines: \nfirst bullet point\nsecond bullet point\n"
                          "third bullet point\nfourth bullet point\n2020-03-24 Single line\n");
    free(got);
}

WK_TEST(jsonfile_corrupted_line_rejected_rest_kept)
{
    /* json-file/beats-filebeat-docker_corrupted.log: line 7 lost its opening brace. */
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    opts.host = "h1";
    struct run_out o = {0};
    o.keep_original = true;
    const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char as[256];
    snprintf(as, sizeof(as), "/var/lib/docker/containers/%s/%s-json.log", id, id);
    run_file(&o, "json-file", &opts, "json-file/beats-filebeat-docker_corrupted.log", as);
    WK_ASSERT_INT_EQ(o.rejects, 1);
    WK_ASSERT_INT_EQ(o.events, 20);
    WK_ASSERT(strstr(o.text, "REJECT line 7: json-file: invalid JSON\n") != NULL);
    char *nl = strchr(o.text, '\n');
    *nl = '\0';
    WK_ASSERT_STR_EQ(
        o.text,
        "{\"@timestamp\":\"2016-03-02T22:58:51.338462311Z\",\"event\":{\"module\":\"clog\","
        "\"kind\":\"event\",\"action\":\"log\",\"original\":\"{\\\"log\\\":\\\"Fetching main "
        "repository "
        "github.com/elastic/beats...\\\\n\\\",\\\"stream\\\":\\\"stdout\\\",\\\"time\\\":"
        "\\\"2016-03-02T22:58:51.338462311Z\\\"}\"},\"host\":{\"name\":\"h1\"},\"message\":"
        "\"Fetching "
        "main repository github.com/elastic/beats...\",\"log\":{\"iostream\":\"stdout\",\"file\":"
        "{\"path\":\"/var/lib/docker/containers/0123456789abcdef0123456789abcdef0123456789abcdef"
        "0123456789abcdef/"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-json.log\"}"
        ",\"offset\":0,\"origin\":{\"format\":\"json-file\"}},\"container\":{\"id\":"
        "\"0123456789abcdef"
        "0123456789abcdef0123456789abcdef0123456789abcdef\"}}");
    free(o.text);
}

WK_TEST(jsonfile_app_fields_and_attrs)
{
    /* json-file/fluent-bit/kubernetes/core__core_unescaping_json.log: a JSON message. */
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    struct run_out o = {0};
    run_file(&o, "json-file", &opts,
             "json-file/fluent-bit/kubernetes/core__core_unescaping_json.log", "x.log");
    WK_ASSERT_INT_EQ(o.events, 1);
    WK_ASSERT(strstr(o.text,
                     ",\"app\":{\"stringified-json\":\"{\\\"stringified-json\\\":\\\"{\\\\"
                     "\\\"stringified-json\\\\\\\":\\\\\\\"\\\\\\\"}\\\"}\",\"text\":\"quoted "
                     "\\\"text with embedded quoted \\\\\\\"text\\\\\\\"\\\"\"}}\n") != NULL);
    free(o.text);
    opts.parse_json_messages = false;
    struct run_out o2 = {0};
    run_file(&o2, "json-file", &opts,
             "json-file/fluent-bit/kubernetes/core__core_unescaping_json.log", "x.log");
    WK_ASSERT(strstr(o2.text, "\"app\"") == NULL);
    free(o2.text);
    /* json-file/moby-jsonfilelog_test-with-attrs-tag.log: attrs kept; year-1 times unset. */
    struct run_out o3 = {0};
    opts.parse_json_messages = true;
    run_file(&o3, "json-file", &opts, "json-file/moby-jsonfilelog_test-with-attrs-tag.log",
             "y.log");
    WK_ASSERT_STR_EQ(o3.text, "{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\",\"event\":{"
                              "\"module\":\"clog\",\"kind\":"
                              "\"event\",\"action\":\"log\"},\"message\":\"line1\",\"log\":{"
                              "\"iostream\":\"src1\",\"file\":"
                              "{\"path\":\"y.log\"},\"offset\":0,\"origin\":{\"format\":\"json-"
                              "file\"}},\"docker\":{\"attrs\":"
                              "{\"tag\":\"a7317399f3f8/test-container\"}}}\n"
                              "{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\",\"event\":{"
                              "\"module\":\"clog\",\"kind\":"
                              "\"event\",\"action\":\"log\"},\"message\":\"line2\",\"log\":{"
                              "\"iostream\":\"src2\",\"file\":"
                              "{\"path\":\"y.log\"},\"offset\":110,\"origin\":{\"format\":\"json-"
                              "file\"}},\"docker\":{\"attrs\":"
                              "{\"tag\":\"a7317399f3f8/test-container\"}}}\n"
                              "{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\",\"event\":{"
                              "\"module\":\"clog\",\"kind\":"
                              "\"event\",\"action\":\"log\"},\"message\":\"line3\",\"log\":{"
                              "\"iostream\":\"src3\",\"file\":"
                              "{\"path\":\"y.log\"},\"offset\":220,\"origin\":{\"format\":\"json-"
                              "file\"}},\"docker\":{\"attrs\":"
                              "{\"tag\":\"a7317399f3f8/test-container\"}}}\n");
    free(o3.text);
}

WK_TEST(cri_fluentbit_multiline)
{
    /* cri/fluent-bit-multiline-test-cri_input.cri.log against its expected output. */
    char *got = messages_of("cri", "cri/fluent-bit-multiline-test-cri_input.cri.log", "0.log", 0);
    char *exp = expected_logs("cri/fluent-bit-multiline-test-cri_output.expected.jsonl", NULL);
    WK_ASSERT_STR_EQ(got, exp);
    free(got);
    free(exp);
    got = messages_of("cri", "cri/fluent-bit-multiline-test-docker_cri_chain_input.cri.log",
                      "0.log", 0);
    exp =
        expected_logs("cri/fluent-bit-multiline-test-docker_cri_chain_output.expected.jsonl", NULL);
    WK_ASSERT_STR_EQ(got, exp);
    free(got);
    free(exp);
}

WK_TEST(cri_kubelet_vectors)
{
    /* cri/kubernetes-kubelet-logs_test-parse-vectors.log: docker lines and the unsupported
     * line are rejected; the two trailing P lines (second with extra tag parts) join. */
    char *got =
        messages_of("cri", "cri/kubernetes-kubelet-logs_test-parse-vectors.log", "0.log", 0);
    WK_ASSERT_STR_EQ(got, "REJECT line 1: cri: bad timestamp\nREJECT line 2: cri: bad timestamp\n"
                          "cri stdout test log\ncri stderr test log\n"
                          "REJECT line 5: cri: bad timestamp\n"
                          "cri stdout partial test logcri stdout partial test log\n");
    free(got);
    /* The untagged v0 format: the message follows the stream. */
    got = messages_of(
        "cri", "cri/kubernetes-community-kubelet-cri-logging-proposal-v0-untagged.log", "0.log", 0);
    WK_ASSERT_STR_EQ(got, "The content of the log entry 1\nThe content of the log entry 2\n");
    free(got);
}

WK_TEST(cri_paths)
{
    struct wk__cri_path cp;
    WK_ASSERT(wk__cri_path_parse("/var/log/pods/kube-system_coredns-5d78c9869d-abcde_"
                                 "0b1c2d3e-1111-2222-3333-444455556666/coredns/3.log",
                                 &cp));
    WK_ASSERT_STR_EQ(cp.ns, "kube-system");
    WK_ASSERT_STR_EQ(cp.pod, "coredns-5d78c9869d-abcde");
    WK_ASSERT_STR_EQ(cp.uid, "0b1c2d3e-1111-2222-3333-444455556666");
    WK_ASSERT_STR_EQ(cp.container, "coredns");
    WK_ASSERT_STR_EQ(cp.id, "");
    WK_ASSERT(wk__cri_path_parse("/var/log/pods/ns_p_u/c/0.log.20240101-101010", &cp));
    WK_ASSERT_STR_EQ(cp.container, "c");
    WK_ASSERT(
        wk__cri_path_parse("/var/log/containers/web-1_default_nginx-"
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log",
                           &cp));
    WK_ASSERT_STR_EQ(cp.pod, "web-1");
    WK_ASSERT_STR_EQ(cp.ns, "default");
    WK_ASSERT_STR_EQ(cp.container, "nginx");
    WK_ASSERT_STR_EQ(cp.id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    WK_ASSERT(!wk__cri_path_parse("/var/log/pods/nounderscore/c/0.log", &cp));
    WK_ASSERT(!wk__cri_path_parse("0.log", &cp));
    char id[65];
    WK_ASSERT(
        wk__jsonfile_path_id("/d/containers/0123456789abcdef0123456789abcdef0123456789abcdef"
                             "0123456789abcdef/0123456789abcdef0123456789abcdef0123456789abcdef"
                             "0123456789abcdef-json.log.1",
                             id));
    WK_ASSERT(!wk__jsonfile_path_id("/d/x-json.log", id));
}

WK_TEST(cri_event_golden)
{
    const char *line = "2019-05-07T18:57:50.904275087+00:00 stderr P part \n"
                       "2019-05-07T18:57:51.904275088+00:00 stderr F {\"lvl\":\"warn\",\"n\":3}\n";
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    struct run_out o = {0};
    o.keep_original = true;
    run_buf(&o, "cri", &opts,
            "/var/log/containers/web-1_default_nginx-"
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log",
            line, strlen(line));
    WK_ASSERT_STR_EQ(
        o.text,
        "{\"@timestamp\":\"2019-05-07T18:57:50.904275087Z\",\"event\":{\"module\":\"clog\","
        "\"kind\":"
        "\"event\",\"action\":\"log\",\"original\":\"2019-05-07T18:57:50.904275087+00:00 stderr P "
        "part \\n2019-05-07T18:57:51.904275088+00:00 stderr F "
        "{\\\"lvl\\\":\\\"warn\\\",\\\"n\\\":3}\"},"
        "\"message\":\"part "
        "{\\\"lvl\\\":\\\"warn\\\",\\\"n\\\":3}\",\"log\":{\"iostream\":\"stderr\","
        "\"file\":{\"path\":\"/var/log/containers/"
        "web-1_default_nginx-0123456789abcdef0123456789abcdef"
        "0123456789abcdef0123456789abcdef.log\"},\"offset\":0,\"origin\":{\"format\":\"cri\"}},"
        "\"container\":{\"id\":"
        "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},"
        "\"kubernetes\":{\"namespace\":\"default\",\"pod\":{\"name\":\"web-1\"},\"container\":"
        "{\"name\":\"nginx\"}}}\n");
    free(o.text);
}

WK_TEST(partials_truncated_at_max_never_dropped)
{
    /* 3 json-file fragments of 8 bytes + a final one; max_message 20: cut, flagged. */
    const char *in =
        "{\"log\":\"aaaaaaaa\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00Z\"}\n"
        "{\"log\":\"bbbbbbbb\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:01Z\"}\n"
        "{\"log\":\"x\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-01T00:00:01Z\"}\n"
        "{\"log\":\"cccccccc\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:02Z\"}\n"
        "{\"log\":\"dd\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:03Z\"}\n"
        "{\"log\":\"after\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:04Z\"}\n";
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    opts.max_message = 20;
    struct run_out o = {0};
    run_buf(&o, "json-file", &opts, "f.log", in, strlen(in));
    WK_ASSERT_INT_EQ(o.events, 3);
    WK_ASSERT_INT_EQ(o.rejects, 0);
    const char *l1 = o.text, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    WK_ASSERT(strncmp(l1,
                      "{\"@timestamp\":\"2024-01-01T00:00:01.000000000Z\",\"event\":{\"module\":"
                      "\"clog\",\"kind\":\"event\",\"action\":\"log\"},\"message\":\"x\"",
                      116) == 0);
    WK_ASSERT(
        strncmp(l2,
                "{\"@timestamp\":\"2024-01-01T00:00:00.000000000Z\",\"event\":{\"module\":"
                "\"clog\",\"kind\":\"event\",\"action\":\"log\"},\"message\":\"aaaaaaaabbbbbbbb"
                "cccc\",\"log\":{\"truncated\":true,",
                160) == 0);
    WK_ASSERT(strstr(l3, "\"message\":\"after\"") != NULL);
    free(o.text);
}

/* Lines the fast path must decode exactly like jansson (or decline). */
static const char *const tricky[] = {
    "{\"log\":\"plain\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00.1Z\"}",
    "{\"log\":\"\\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\",\"stream\":\"stderr\",\"time\":\"t\"}",
    "{\"log\":\"\\u003chtml\\u003e \\u0026 \\u00e9 \\u20AC "
    "\\ud83d\\ude00\",\"stream\":\"s\",\"time\":\"t\"}",
    "{\"log\":\"nul\\u0000byte\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"lone \\ud83d x\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"low \\ude00\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"bad \xc0\xaf\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"surr \xed\xa0\x80\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"ctl \x01\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"bad esc \\x\",\"stream\":\"stdout\",\"time\":\"t\"}",
    "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"t\"} ",
    "{\"log\":\"x\",\"stream\":\"stdout\",\"attrs\":{\"a\":\"b\"},\"time\":\"t\"}",
    "{\"log\":\"\\uD834\\uDD1E big \\uDBFF\\uDFFF\",\"stream\":\"stdout\",\"time\":\"t\"}",
};

WK_TEST(fast_path_matches_jansson)
{
    struct wk__jf_rec a = {0}, b = {0};
    int fast = 0;
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        const char *l = tricky[i];
        int rf = wk__jsonfile_fast(l, strlen(l), &a);
        const char *why = NULL;
        int rs = wk__jsonfile_slow(l, strlen(l), &b, &why);
        if (rf == 1) {
            fast++;
            if (rs != 0)
                WK_FAIL("line %zu: fast accepted, jansson rejected", i);
            WK_ASSERT_MEM_EQ(a.log.p, a.log.len, b.log.p, b.log.len);
            WK_ASSERT_MEM_EQ(a.stream.p, a.stream.len, b.stream.p, b.stream.len);
            WK_ASSERT_MEM_EQ(a.time.p, a.time.len, b.time.p, b.time.len);
        }
    }
    /* Accepted by the fast path: the 6 well-formed fixed-shape lines. */
    WK_ASSERT_INT_EQ(fast, 6);
    WK_ASSERT_INT_EQ(wk__jsonfile_fast(tricky[2], strlen(tricky[2]), &a), 1);
    WK_ASSERT_MEM_EQ(a.log.p, a.log.len, "<html> & \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 20);
    wk__jf_rec_fini(&a);
    wk__jf_rec_fini(&b);
}

struct cursor_sink {
    struct run_out out;
    struct wk_parser *p;
    struct wk__clog_state st[16];
    uint64_t resume[16];
    int n;
};

static int cs_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct cursor_sink *c = (struct cursor_sink *)s;
    wk__clog_parser_state(c->p, &c->st[c->n]);
    c->resume[c->n++] = resume;
    return out_emit(s, ev, resume);
}

WK_TEST(resume_after_any_event_is_exactly_once)
{
    /* Interleaved partial stdout and full stderr lines: restart after each emitted event
     * from (resume offset, state) and check the union is the full output, once. */
    const char *in =
        "{\"log\":\"o1-\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00Z\"}\n"
        "{\"log\":\"e1\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-01T00:00:01Z\"}\n"
        "{\"log\":\"e2\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-01T00:00:02Z\"}\n"
        "{\"log\":\"o1-end\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:03Z\"}\n"
        "{\"log\":\"e3\\n\",\"stream\":\"stderr\",\"time\":\"2024-01-01T00:00:04Z\"}\n";
    size_t len = strlen(in);
    const struct wk_parser_ops *ops = wk_parser_find("json-file");
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    struct cursor_sink full = {0};
    full.out.sink.emit = cs_emit;
    full.out.sink.reject = out_reject;
    WK_ASSERT_OK(ops->create(&full.p, &opts));
    uint64_t off = 0, ln = 0;
    while (off < len) {
        size_t l = (size_t)(strchr(in + off, '\n') - (in + off));
        struct wk_line_ctx w = {"f", ++ln, off};
        WK_ASSERT_OK(ops->feed_line(full.p, in + off, l, &w, &full.out.sink));
        off += l + 1;
    }
    WK_ASSERT_OK(ops->flush(full.p, &full.out.sink));
    WK_ASSERT_INT_EQ(full.n, 4);
    WK_ASSERT_UINT_EQ(full.resume[0], 0);   /* e1 emitted while o1 is held at 0 */
    WK_ASSERT_UINT_EQ(full.resume[2], 255); /* after line 4: nothing held */
    for (int k = 0; k < full.n; k++) {
        /* Output up to event k from the full run, then a restarted run from its cursor. */
        struct cursor_sink part = {0};
        part.out.sink.emit = cs_emit;
        part.out.sink.reject = out_reject;
        WK_ASSERT_OK(ops->create(&part.p, &opts));
        wk__clog_parser_skip(part.p, &full.st[k]);
        off = full.resume[k];
        while (off < len) {
            size_t l = (size_t)(strchr(in + off, '\n') - (in + off));
            struct wk_line_ctx w = {"f", 0, off};
            WK_ASSERT_OK(ops->feed_line(part.p, in + off, l, &w, &part.out.sink));
            off += l + 1;
        }
        WK_ASSERT_OK(ops->flush(part.p, &part.out.sink));
        WK_ASSERT_INT_EQ(part.n, full.n - 1 - k);
        /* The restarted events equal the tail of the full run. */
        const char *tail = full.out.text;
        for (int s = 0; s <= k; s++)
            tail = strchr(tail, '\n') + 1;
        WK_ASSERT_STR_EQ(part.out.text ? part.out.text : "", tail);
        free(part.out.text);
        ops->destroy(part.p);
    }
    free(full.out.text);
    ops->destroy(full.p);
}
