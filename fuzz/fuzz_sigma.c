/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: any bytes as a Sigma rule file. Loading must never crash: every document is
 * either a rule or a rejection with a message; what loads must evaluate an event and save
 * its correlation state. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watchkeeper/rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ls_text[] =
    "logsources:\n"
    "  - logsource: {product: linux, service: auditd}\n"
    "    match: {event.module: auditd}\n"
    "    per_record: true\n"
    "    keyword_argv_record: EXECVE\n"
    "    dispatch: type\n"
    "  - logsource: {category: test}\n"
    "    match: {}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64], rule[96], ls[96];
    static struct wk_event *ev;
    if (!ev) {
        snprintf(dir, sizeof(dir), "/tmp/wk-fuzz-sigma-%d", (int)getpid());
        snprintf(rule, sizeof(rule), "%s.yml", dir);
        snprintf(ls, sizeof(ls), "%s.ls.yaml", dir);
        FILE *f = fopen(ls, "w");
        if (!f || wk_event_new(&ev) < 0)
            abort();
        fputs(ls_text, f);
        fclose(f);
        const char *j = "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"event\":{\"module\":"
                        "\"auditd\"},\"a\":\"x\",\"records\":[{\"type\":\"EXECVE\",\"a0\":"
                        "\"sh\",\"a1\":\"-c\"},{\"type\":\"SYSCALL\",\"a0\":\"40000\"}]}";
        if (wk_event_from_json(ev, j, strlen(j), NULL) < 0)
            abort();
    }
    FILE *f = fopen(rule, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    if (wk_rule_loader_new(&l) < 0 || wk_rule_loader_logsources(l, ls) != 0)
        abort();
    (void)wk_rule_loader_add(l, rule);
    if (wk_rule_loader_build(l, &rs) < 0)
        abort();
    for (size_t i = 0; i < wk_rule_loader_nrejects(l); i++)
        if (!wk_rule_loader_reject(l, i)->msg[0])
            abort(); /* a rejection always says why */
    wk_rule_loader_free(l);
    struct wk_rule_scratch *sc = NULL;
    if (wk_rule_scratch_new(&sc, rs, NULL) < 0)
        abort();
    (void)wk_ruleset_eval(rs, sc, ev, NULL, NULL);
    char *state = NULL;
    if (wk_rule_scratch_save(sc, &state, NULL) < 0)
        abort();
    free(state);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
    unlink(rule);
    return 0;
}
