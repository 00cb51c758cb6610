/* SPDX-License-Identifier: Apache-2.0 */
/* The docker-events parser over the shared corpus (golden outputs): legacy and current
 * event shapes, RFC 7464 framing, exec command lines, labels with literal dots. */
#include "config.h"

#include "../../collector/sources/docker/docker_private.h"
#include "clog_test_util.h"

WK_TEST(detects_docker_events)
{
    const char *cur = "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"a\","
                      "\"Attributes\":{}},\"time\":1,\"timeNano\":1}\n";
    const char *old = "{\"status\":\"create\",\"id\":\"dfdf82bd3881\",\"from\":\"u\",\"time\":1}\n";
    WK_ASSERT(wk_parser_detect(cur, strlen(cur), "x") == wk_parser_find("docker-events"));
    WK_ASSERT(wk_parser_detect(old, strlen(old), "x") == wk_parser_find("docker-events"));
    const char *jf = "{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00Z\"}\n";
    WK_ASSERT(wk_parser_detect(jf, strlen(jf), "x") == wk_parser_find("json-file"));
    const char *cri = "2024-01-01T00:00:00.1Z stdout F hi\n";
    WK_ASSERT(wk_parser_detect(cri, strlen(cri), "x") == wk_parser_find("cri"));
}

WK_TEST(v122_mixed_shape_golden)
{
    /* docker-events/moby-api-v1.22-events-example.jsonl: legacy and new fields together. */
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    struct run_out o = {0};
    o.keep_original = true;
    run_file(&o, "docker-events", &opts, "docker-events/moby-api-v1.22-events-example.jsonl", NULL);
    WK_ASSERT_INT_EQ(o.rejects, 0);
    WK_ASSERT_INT_EQ(o.events, 9);
    char *l2 = strchr(o.text, '\n') + 1;
    *strchr(l2, '\n') = '\0';
    WK_ASSERT_STR_EQ(
        l2,
        "{\"@timestamp\":\"2016-04-29T15:18:21.381709551Z\",\"event\":{\"module\":\"docker\","
        "\"kind\":"
        "\"event\",\"action\":\"create\",\"original\":\"{\\\"status\\\":\\\"create\\\",\\\"id\\\":"
        "\\\"ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743\\\",\\\"from\\\":"
        "\\\"alpine\\\",\\\"Type\\\":\\\"container\\\",\\\"Action\\\":\\\"create\\\",\\\"Actor\\\":"
        "{\\\"ID\\\":\\\"ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743\\\","
        "\\\"Attributes\\\":{\\\"com.example.some-label\\\":\\\"some-label-value\\\",\\\"image\\\":"
        "\\\"alpine\\\",\\\"name\\\":\\\"my-container\\\"}},\\\"time\\\":1461943101,"
        "\\\"timeNano\\\":"
        "1461943101381709551}\"},\"status\":\"create\",\"id\":"
        "\"ede54ee1afda366ab42f824e8a5ffd195155d8"
        "53ceaec74a927f249ea270c743\",\"from\":\"alpine\",\"Type\":\"container\",\"Action\":"
        "\"create\","
        "\"Actor\":{\"ID\":\"ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743\","
        "\"Attributes\":{\"com.example.some-label\":\"some-label-value\",\"image\":\"alpine\","
        "\"name\":"
        "\"my-container\"}},\"time\":1461943101,\"timeNano\":1461943101381709551,\"container\":{"
        "\"id\":"
        "\"ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743\",\"name\":\"my-"
        "container\","
        "\"image\":{\"name\":\"alpine\"}}}");
    free(o.text);
}

WK_TEST(all_corpus_files_parse)
{
    static const struct {
        const char *file;
        int events;
    } files[] = {
        {"docker-events/docker-cli-events-json.golden.jsonl", 4},
        {"docker-events/moby-api-v1.20-events-example.jsonl", 4},
        {"docker-events/moby-api-v1.21-events-example.jsonl", 4},
        {"docker-events/moby-api-v1.24-events-example.jsonl", 9},
        {"docker-events/wazuh/docker_integration-events-extracted.jsonl", 14},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct wk_parser_opts opts;
        wk_parser_opts_init(&opts);
        struct run_out o = {0};
        run_file(&o, "docker-events", &opts, files[i].file, NULL);
        if (o.events != files[i].events || o.rejects)
            WK_FAIL("%s: %d events %d rejects", files[i].file, o.events, o.rejects);
        free(o.text);
    }
}

WK_TEST(legacy_v120_container_fields)
{
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    struct run_out o = {0};
    run_file(&o, "docker-events", &opts, "docker-events/moby-api-v1.20-events-example.jsonl", NULL);
    *strchr(o.text, '\n') = '\0';
    WK_ASSERT_STR_EQ(
        o.text, "{\"@timestamp\":\"2013-07-17T13:32:04.000000000Z\",\"event\":{\"module\":"
                "\"docker\",\"kind\":\"event\",\"action\":\"create\"},\"status\":\"create\","
                "\"id\":\"dfdf82bd3881\",\"from\":\"ubuntu:latest\",\"time\":1374067924,"
                "\"container\":{\"id\":\"dfdf82bd3881\",\"image\":{\"name\":\"ubuntu:latest\"}}}");
    free(o.text);
}

WK_TEST(exec_rfc7464_timenano_precision)
{
    /* API >= 1.52 shape in json-seq framing; timeNano beyond 2^53. */
    const char *in =
        "\x1e{\"Type\":\"container\",\"Action\":\"exec_create: sh -c id  -u\",\"Actor\":{\"ID\":"
        "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"Attributes\":{"
        "\"execID\":\"e1\",\"image\":\"wk-busybox\",\"name\":\"c1\",\"a.b.c\":\"v\"}},\"scope\":"
        "\"local\",\"time\":1700000000,\"timeNano\":1700000000123456789}\n"
        "\x1e{\"Type\":\"container\",\"Action\":\"health_status: healthy\",\"Actor\":{\"ID\":\"x\","
        "\"Attributes\":{}},\"scope\":\"local\",\"time\":1700000001,\"timeNano\":"
        "1700000001000000001}\n"
        "{\"Type\":\"container\",\"Action\":\"die\"\n"
        "{\"Type\":\"container\",\"Actor\":{}}\n";
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    struct run_out o = {0};
    run_buf(&o, "docker-events", &opts, "ev.jsonl", in, strlen(in));
    WK_ASSERT_STR_EQ(
        o.text,
        "{\"@timestamp\":\"2023-11-14T22:13:20.123456789Z\",\"event\":{\"module\":\"docker\","
        "\"kind\":"
        "\"event\",\"action\":\"exec_create\"},\"Type\":\"container\",\"Action\":\"exec_create: sh "
        "-c "
        "id  "
        "-u\",\"Actor\":{\"ID\":"
        "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
        "\"Attributes\":{\"execID\":\"e1\",\"image\":\"wk-busybox\",\"name\":\"c1\",\"a.b.c\":"
        "\"v\"}},"
        "\"scope\":\"local\",\"time\":1700000000,\"timeNano\":1700000000123456789,\"container\":{"
        "\"id\":"
        "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"name\":\"c1\","
        "\"image\":"
        "{\"name\":\"wk-busybox\"}},\"process\":{\"command_line\":\"sh -c id  "
        "-u\",\"args\":[\"sh\",\"-c\","
        "\"id\",\"-u\"],\"executable\":\"sh\"}}\n"
        "{\"@timestamp\":\"2023-11-14T22:13:21.000000001Z\",\"event\":{\"module\":\"docker\","
        "\"kind\":"
        "\"event\",\"action\":\"health_status\"},\"Type\":\"container\",\"Action\":\"health_status:"
        " "
        "healthy\",\"Actor\":{\"ID\":\"x\"},\"scope\":\"local\",\"time\":1700000001,\"timeNano\":"
        "1700000001000000001,\"container\":{\"id\":\"x\"}}\n"
        "REJECT line 3: docker-events: invalid JSON\n"
        "REJECT line 4: docker-events: no Action or status\n");
    free(o.text);
    /* The literal dots of the label key are recorded in the mask. */
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    json_t *j = json_loads(in + 1, JSON_DISABLE_EOF_CHECK, NULL);
    const char *why = NULL;
    WK_ASSERT_OK(wk__docker_event_build(ev, j, "x", 1, NULL, &why));
    int found = 0;
    for (size_t i = 0; i < wk_event_nfields(ev); i++) {
        if (strcmp(wk_event_field_key(ev, i)->name, "Actor.Attributes.a.b.c") == 0) {
            WK_ASSERT_UINT_EQ(wk_event_field_dots(ev, i), 0xC);
            found = 1;
        }
    }
    WK_ASSERT(found);
    json_decref(j);
    wk_event_free(ev);
}
