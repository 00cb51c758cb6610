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

/* wk_time_format writes digits by hand: the same bytes as the printf form it replaced,
 * over the whole i64 range (years 1677-2262), ends and second boundaries included. */
WK_TEST(format_matches_printf_form)
{
    char buf[WK_RFC3339_MAX], ref[WK_RFC3339_MAX];
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 300000; i++) {
        int64_t t;
        if (i == 0)
            t = INT64_MIN;
        else if (i == 1)
            t = INT64_MAX;
        else if (i < 100)
            t = (int64_t)(i - 50) * WK_NS_PER_SEC + (i % 3) - 1;
        else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t = (int64_t)x;
        }
        int64_t secs = t / WK_NS_PER_SEC, frac = t % WK_NS_PER_SEC;
        if (frac < 0) {
            frac += WK_NS_PER_SEC;
            secs -= 1;
        }
        int64_t days = secs / 86400, rem = secs % 86400;
        if (rem < 0) {
            rem += 86400;
            days -= 1;
        }
        /* civil date by the textbook algorithm (H. Hinnant) */
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
        int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
        int n = snprintf(ref, sizeof(ref), "%04lld-%02u-%02uT%02d:%02d:%02d.%09lldZ",
                         (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                         (int)(rem % 60), (long long)frac);
        size_t got = wk_time_format(t, buf);
        if (got != (size_t)n || strcmp(buf, ref) != 0)
            WK_FAIL("%lld: %s, want %s", (long long)t, buf, ref);
    }
}
