/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: the rule set the daemon bench loads (the default pack with its logsources
 * and placeholders, plus the corpus' SigmaHQ rules), for the rule tests that compare two
 * ways of evaluating it.
 */
#ifndef WK_TEST_RULES_UTIL_H
#define WK_TEST_RULES_UTIL_H

#include <stdbool.h>
#include <stdio.h>

#include "watchkeeper/rule.h"
#include "wk_test.h"

/* The pack and the corpus' rules (from corpus), none rejected; prefilter on or off. */
static inline struct wk_ruleset *rules_pack_and_corpus(const char *corpus, bool prefilter)
{
    char ls[4200], ph[4200], pack[4200], sigma[4200];
    snprintf(ls, sizeof(ls), "%s/rules/logsources.yaml", wk_test_srcdir());
    snprintf(ph, sizeof(ph), "%s/rules/placeholders.yaml", wk_test_srcdir());
    snprintf(pack, sizeof(pack), "%s/rules", wk_test_srcdir());
    snprintf(sigma, sizeof(sigma), "%s/sigma/rules", corpus);
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_OK(wk_rule_loader_logsources(l, ls));
    WK_ASSERT_OK(wk_rule_loader_placeholders(l, ph));
    WK_ASSERT(wk_rule_loader_add(l, pack) > 0);
    WK_ASSERT(wk_rule_loader_add(l, sigma) > 0);
    wk_rule_loader_set_prefilter(l, prefilter);
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    WK_ASSERT_UINT_EQ(wk_rule_loader_nrejects(l), 0);
    wk_rule_loader_free(l);
    return rs;
}

#endif
