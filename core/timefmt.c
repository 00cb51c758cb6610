/* SPDX-License-Identifier: Apache-2.0 */
/* Nanosecond timestamps: RFC 3339 in and out, and the CLI's relative forms. Calendar
 * arithmetic is done by hand (proleptic Gregorian, days from 1970-01-01) because gmtime/
 * timegm work in seconds and we must not lose the nanoseconds or depend on TZ. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watchkeeper/error.h"
#include "watchkeeper/timefmt.h"

int64_t wk_time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * WK_NS_PER_SEC + ts.tv_nsec;
}

int64_t wk_time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * WK_NS_PER_SEC + ts.tv_nsec;
}

/* Days since 1970-01-01 of a civil date; month 1..12. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

size_t wk_time_format(int64_t ns, char *buf)
{
    int64_t secs = ns / WK_NS_PER_SEC;
    int64_t frac = ns % WK_NS_PER_SEC;
    if (frac < 0) {
        frac += WK_NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999) {
        /* the common case by hand: snprintf was most of an alert's formatting (hunt) */
        static const char d2[] = "00010203040506070809101112131415161718192021222324252627282930"
                                 "31323334353637383940414243444546474849505152535455565758596061"
                                 "62636465666768697071727374757677787980818283848586878889909192"
                                 "93949596979899";
        unsigned hms[3] = { (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60) };
        memcpy(buf, d2 + 2 * (y / 100), 2);
        memcpy(buf + 2, d2 + 2 * (y % 100), 2);
        buf[4] = '-';
        memcpy(buf + 5, d2 + 2 * m, 2);
        buf[7] = '-';
        memcpy(buf + 8, d2 + 2 * d, 2);
        for (int i = 0; i < 3; i++) {
            buf[10 + 3 * i] = i ? ':' : 'T';
            memcpy(buf + 11 + 3 * i, d2 + 2 * hms[i], 2);
        }
        buf[19] = '.';
        uint32_t f = (uint32_t)frac;
        for (int i = 28; i >= 20; i--) {
            buf[i] = (char)('0' + f % 10);
            f /= 10;
        }
        buf[29] = 'Z';
        buf[30] = '\0';
        return 30;
    }
    int n = snprintf(buf, WK_RFC3339_MAX, "%04lld-%02u-%02uT%02d:%02d:%02d.%09lldZ",
                     (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                     (int)(rem % 60), (long long)frac);
    return n < 0 ? 0 : (size_t)n;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool valid_date(int y, int mo, int d)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mo < 1 || mo > 12 || d < 1)
        return false;
    return d <= mdays[mo - 1] + (mo == 2 && is_leap(y));
}

int wk_time_parse(const char *s, size_t len, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
        return WK_EPARSE;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return WK_EPARSE;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
        return WK_EPARSE;
    if (!valid_date(y, mo, d) || h > 23 || mi > 59 || sec > 60)
        return WK_EPARSE;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t nd = 0;
        while (i < len && isdigit((unsigned char)s[i])) {
            if (nd < 9) {
                frac = frac * 10 + (s[i] - '0');
                nd++;
            } /* digits past ns are dropped (truncation, not rounding) */
            i++;
        }
        if (nd == 0)
            return WK_EPARSE;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return WK_EPARSE;
        offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return WK_EPARSE;
    }
    if (i != len)
        return WK_EPARSE;
    if (sec == 60)
        sec = 59; /* a leap second is stored as the last second of its minute */
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                   mi * 60 + sec - offset;
    /* int64 ns spans 1677-09-21 to 2262-04-11: refuse what does not fit */
    int64_t ns;
    if (__builtin_mul_overflow(secs, WK_NS_PER_SEC, &ns) || __builtin_add_overflow(ns, frac, &ns))
        return WK_ERANGE_TIME;
    *out = ns;
    return 0;
}

int wk_time_parse_user(const char *s, int64_t now_ns, int64_t *out)
{
    size_t len = strlen(s);
    if (len == 0)
        return WK_EPARSE;
    if (strcmp(s, "now") == 0) {
        *out = now_ns;
        return 0;
    }
    if (s[0] == '@') {
        char *end;
        errno = 0;
        double v = strtod(s + 1, &end);
        if (end == s + 1 || *end || v < 0 || v > 9.2e9 || !isdigit((unsigned char)s[1]))
            return WK_EPARSE;
        /* Split integer and fraction to keep ns exact for plain integer input. */
        long long whole = strtoll(s + 1, &end, 10);
        int64_t ns = (int64_t)whole * WK_NS_PER_SEC;
        if (*end == '.') {
            int64_t f = 0;
            int nd = 0;
            for (const char *p = end + 1; *p && nd < 9; p++, nd++)
                f = f * 10 + (*p - '0');
            for (; nd < 9; nd++)
                f *= 10;
            ns += f;
        }
        *out = ns;
        return 0;
    }
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        int y, mo, d;
        if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
            !valid_date(y, mo, d))
            return WK_EPARSE;
        if (__builtin_mul_overflow(days_from_civil(y, (unsigned)mo, (unsigned)d),
                                   86400 * WK_NS_PER_SEC, out))
            return WK_ERANGE_TIME;
        return 0;
    }
    /* Relative: [-]N[smhdw], meaning N units before now. */
    const char *p = s[0] == '-' ? s + 1 : s;
    if (isdigit((unsigned char)*p)) {
        char *end;
        long long n = strtoll(p, &end, 10);
        if (end != p && end[0] && !end[1] && n >= 0 && n < 100000000) {
            int64_t unit;
            switch (end[0]) {
            case 's': unit = 1; break;
            case 'm': unit = 60; break;
            case 'h': unit = 3600; break;
            case 'd': unit = 86400; break;
            case 'w': unit = 7 * 86400; break;
            default: return WK_EPARSE;
            }
            int64_t back;
            if (__builtin_mul_overflow((int64_t)n, unit * WK_NS_PER_SEC, &back) ||
                __builtin_sub_overflow(now_ns, back, out))
                return WK_ERANGE_TIME;
            return 0;
        }
    }
    return wk_time_parse(s, len, out);
}
