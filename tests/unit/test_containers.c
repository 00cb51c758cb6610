/* SPDX-License-Identifier: Apache-2.0 */
/* The container table: inspection facts, lookups, JSON export/import, event enrichment. */
#include "config.h"

#include "watchkeeper/containers.h"
#include "watchkeeper/error.h"
#include "wk_test.h"

#define ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "0123456789abffff0123456789abcdef0123456789abcdef0123456789abcdef"

/* An inspect response trimmed to the fields used (as dockerd 20.10 returns them). */
static const char inspect1[] =
    "{\"Id\":\"" ID1 "\",\"Name\":\"/web\",\"Image\":\"sha256:feed\",\"LogPath\":\"/d/" ID1
    "-json.log\",\"State\":{\"Running\":true,\"Pid\":4242},"
    "\"HostConfig\":{\"Privileged\":false,\"CapAdd\":[\"SYS_ADMIN\"],\"CapDrop\":null,"
    "\"NetworkMode\":\"host\",\"PidMode\":\"\",\"IpcMode\":\"private\",\"UTSMode\":\"\","
    "\"UsernsMode\":\"\",\"CgroupnsMode\":\"private\",\"SecurityOpt\":[\"seccomp=unconfined\"],"
    "\"ReadonlyRootfs\":true,\"Memory\":67108864,\"PidsLimit\":null,"
    "\"RestartPolicy\":{\"Name\":\"no\",\"MaximumRetryCount\":0}},"
    "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/\",\"Destination\":\"/host\",\"Mode\":\"\","
    "\"RW\":true,\"Propagation\":\"rprivate\"},{\"Type\":\"bind\",\"Source\":\"/etc\","
    "\"Destination\":\"/e\",\"Mode\":\"ro\",\"RW\":false,\"Propagation\":\"rprivate\"}],"
    "\"Config\":{\"User\":\"\",\"Image\":\"wk-busybox\",\"Labels\":{\"io.kubernetes.pod.name\":"
    "\"p1\",\"a.b\":\"c\"}}}";

WK_TEST(inspect_lookup_enrich)
{
    struct wk_containers *t = NULL;
    WK_ASSERT_OK(wk_containers_new(&t));
    json_t *j = json_loads(inspect1, 0, NULL);
    WK_ASSERT(j != NULL);
    struct wk_container *c = NULL;
    WK_ASSERT_OK(wk_containers_from_inspect(t, j, 100, &c));
    json_decref(j);
    WK_ASSERT_STR_EQ(c->name, "web");
    WK_ASSERT_STR_EQ(c->image, "wk-busybox");
    WK_ASSERT_STR_EQ(c->pod, "p1");
    WK_ASSERT_INT_EQ(c->pid, 4242);
    WK_ASSERT(wk_containers_get(t, ID1, 64) == c);
    WK_ASSERT(wk_containers_get(t, ID1, 12) == c);
    WK_ASSERT(wk_containers_find_name(t, "/web") == c);
    WK_ASSERT(wk_containers_upsert(t, ID2, 5) != NULL);
    WK_ASSERT(wk_containers_get(t, ID1, 12) == NULL); /* ambiguous prefix now */
    WK_ASSERT(wk_containers_get(t, ID1, 16) == c);

    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    WK_ASSERT_OK(wk_container_enrich_event(c, ev, true));
    char *js = NULL;
    WK_ASSERT_OK(wk_event_to_json(ev, &js, NULL));
    WK_ASSERT_STR_EQ(
        js,
        "{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\",\"container\":{\"name\":\"web\","
        "\"image\":{\"name\":\"wk-busybox\"}},\"docker\":{\"container\":{\"privileged\":false,"
        "\"cap_add\":[\"SYS_ADMIN\"],\"cap_drop\":[],\"mount_sources\":[\"/\",\"/etc\"],"
        "\"mount_sources_rw\":[\"/\"],\"mounts\":[{\"Type\":\"bind\",\"Source\":\"/"
        "\",\"Destination\":"
        "\"/"
        "host\",\"Mode\":\"\",\"RW\":true,\"Propagation\":\"rprivate\"},{\"Type\":\"bind\","
        "\"Source\":"
        "\"/etc\",\"Destination\":\"/"
        "e\",\"Mode\":\"ro\",\"RW\":false,\"Propagation\":\"rprivate\"}],"
        "\"network_mode\":\"host\",\"pid_mode\":\"\",\"ipc_mode\":\"private\",\"uts_mode\":\"\","
        "\"userns_mode\":\"\",\"cgroupns_mode\":\"private\",\"user\":\"\",\"security_opt\":"
        "[\"seccomp=unconfined\"],\"readonly_rootfs\":true,\"memory_limit\":67108864,"
        "\"restart_policy\":\"no\",\"image_id\":\"sha256:feed\",\"pod\":\"p1\",\"labels\":"
        "{\"io.kubernetes.pod.name\":\"p1\",\"a.b\":\"c\"}}}}");
    free(js);

    /* Export, import into a fresh table, export again: same text. */
    char *a = NULL, *b = NULL;
    c->removed = 300;
    WK_ASSERT_OK(wk_container_to_json(c, &a, NULL));
    struct wk_containers *t2 = NULL;
    WK_ASSERT_OK(wk_containers_new(&t2));
    WK_ASSERT_OK(wk_containers_import_json(t2, a, strlen(a)));
    WK_ASSERT_INT_EQ(wk_containers_count(t2), 1);
    WK_ASSERT_OK(wk_container_to_json(wk_containers_at(t2, 0), &b, NULL));
    WK_ASSERT_STR_EQ(b, a);
    WK_ASSERT(wk_containers_find_name(t2, "web") != NULL);
    WK_ASSERT_INT_EQ(wk_containers_import_json(t2, "{\"id\":\"short\"}", 14), WK_EPARSE);
    free(a);
    free(b);
    wk_event_free(ev);
    wk_containers_free(t2);
    wk_containers_free(t);
}
