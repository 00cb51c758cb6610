/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper version: the version and the library versions it was built with. */
#include "config.h"

#include <jansson.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <pcre2.h>
#include <sodium.h>
#include <stdio.h>
#include <uv.h>
#include <zstd.h>

#include "cli.h"
#include "watchkeeper/version.h"

const char wk_cmd_version_usage[] =
    "usage: watchkeeper version\n\n"
    "Print the version of watchkeeper and of the libraries it runs with.\n";

int wk_cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        wk_cli_error("version", "takes no arguments");
        return WK_EXIT_USAGE;
    }
    char pcre[64];
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    printf("watchkeeper %s\n", wk_version());
    printf("libuv %s, jansson %s, lmdb %s, pcre2 %s, zstd %s, libsodium %s, libcrypto %s\n",
           uv_version_string(), jansson_version_str(), mdb_version(NULL, NULL, NULL), pcre,
           ZSTD_versionString(), sodium_version_string(), OpenSSL_version(OPENSSL_VERSION_STRING));
    return WK_EXIT_OK;
}
