/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "watchkeeper/error.h"
#include "watchkeeper/timefmt.h"
#include "wk_test.h"

static int64_t parse(const char *s)
{
    int64_t v = 0;
    if (wk_time_parse(s, strlen(s), &v) < 0)
        WK_FAIL("cannot parse %s", s);
    return v;
}

WK_TEST(format_known_instants)
{
    char buf[WK_RFC3339_MAX];
    WK_ASSERT_UINT_EQ(wk_time_format(0, buf), 30);
    WK_ASSERT_STR_EQ(buf, "1970-01-01T00:00:00.000000000Z");
    wk_time_format(INT64_C(1709251199999999999), buf);
    WK_ASSERT_STR_EQ(buf, "2024-02-29T23:59:59.999999999Z");
    wk_time_format(-1, buf);
    WK_ASSERT_STR_EQ(buf, "1969-12-31T23:59:59.999999999Z");
    wk_time_format(INT64_C(4102444800000000000), buf);
    WK_ASSERT_STR_EQ(buf, "2100-01-01T00:00:00.000000000Z");
}

WK_TEST(parse_forms)
{
    WK_ASSERT_INT_EQ(parse("1970-01-01T00:00:00Z"), 0);
    WK_ASSERT_INT_EQ(parse("2024-02-29T23:59:59.999999999Z"), INT64_C(1709251199999999999));
    WK_ASSERT_INT_EQ(parse("2024-03-01T00:59:59.5+01:00"), INT64_C(1709251199500000000));
    WK_ASSERT_INT_EQ(parse("2024-02-29t23:59:59.1234567891234z"), INT64_C(1709251199123456789));
    WK_ASSERT_INT_EQ(parse("2024-02-29 23:59:59-00:30"), INT64_C(1709252999000000000));
}

WK_TEST(parse_rejects)
{
    const char *bad[] = { "", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
                          "2024-01-01T24:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z",
                          "2024-01-01T00:00:00Zjunk", "2024-13-01T00:00:00Z",
                          "2024-01-01T00:00:00+1:00" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t v;
        if (wk_time_parse(bad[i], strlen(bad[i]), &v) != WK_EPARSE)
            WK_FAIL("accepted %s", bad[i]);
    }
}

WK_TEST(parse_out_of_range)
{
    int64_t v = 0;
    const char *late = "9999-12-31T23:59:59Z", *early = "1600-01-01T00:00:00Z";
    WK_ASSERT_INT_EQ(wk_time_parse(late, strlen(late), &v), WK_ERANGE_TIME);
    WK_ASSERT_INT_EQ(wk_time_parse(early, strlen(early), &v), WK_ERANGE_TIME);
    WK_ASSERT_OK(wk_time_parse("2262-04-11T23:47:16.854775807Z", 30, &v));
    WK_ASSERT_INT_EQ(v, INT64_MAX);
    WK_ASSERT_INT_EQ(wk_time_parse_user("99999999w", 0, &v), WK_ERANGE_TIME);
    WK_ASSERT_INT_EQ(wk_time_parse_user("3000-01-01", 0, &v), WK_ERANGE_TIME);
    WK_ASSERT_INT_EQ(wk_time_parse_user("@-5", 0, &v), WK_EPARSE);
}

WK_TEST(parse_user_relative)
{
    int64_t now = INT64_C(1700000000000000000), v = 0;
    WK_ASSERT_OK(wk_time_parse_user("-1h", now, &v));
    WK_ASSERT_INT_EQ(v, now - INT64_C(3600000000000));
    WK_ASSERT_OK(wk_time_parse_user("2d", now, &v));
    WK_ASSERT_INT_EQ(v, now - INT64_C(172800000000000));
    WK_ASSERT_OK(wk_time_parse_user("now", now, &v));
    WK_ASSERT_INT_EQ(v, now);
    WK_ASSERT_OK(wk_time_parse_user("@1700000000.25", now, &v));
    WK_ASSERT_INT_EQ(v, INT64_C(1700000000250000000));
    WK_ASSERT_OK(wk_time_parse_user("2024-01-02", now, &v));
    WK_ASSERT_INT_EQ(v, INT64_C(1704153600000000000));
    WK_ASSERT_INT_EQ(wk_time_parse_user("3y", now, &v), WK_EPARSE);
    WK_ASSERT_INT_EQ(wk_time_parse_user("soon", now, &v), WK_EPARSE);
}

WK_TEST(format_parse_roundtrip_many)
{
    char buf[WK_RFC3339_MAX];
    int64_t t = INT64_C(-6213559680000000000); /* year 1773 */
    for (int i = 0; i < 200000; i++) {
        t += INT64_C(987654321987) + i;
        size_t n = wk_time_format(t, buf);
        int64_t back = 0;
        if (wk_time_parse(buf, n, &back) < 0 || back != t)
            WK_FAIL("round trip of %lld via %s gave %lld", (long long)t, buf, (long long)back);
    }
}
