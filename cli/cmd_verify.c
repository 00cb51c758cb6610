/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper verify: walk the store's hash chain and its signed checkpoints; name the
 * first bad block and exit 1 on any break. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "watchkeeper/error.h"
#include "watchkeeper/store.h"

const char wk_cmd_verify_usage[] =
    "usage: watchkeeper verify --store DIR [--from ID] [--pubkey FILE]\n\n"
    "Check the integrity of the store at DIR: every block's payload is decompressed and\n"
    "its hash recomputed, each block must chain to its predecessor, no block may be\n"
    "missing, and the Ed25519-signed checkpoints must verify and match the chain.\n"
    "Prints 'ok: ...' and exits 0 when intact; names the first bad block and exits 1\n"
    "otherwise. Blocks in cold rebuild values written with another rebuild version of a\n"
    "parser than this binary's cannot have their records checked here (their links and\n"
    "header hashes are): verify names the first, says what to do, and exits 4 when the\n"
    "rest is intact (a break elsewhere still exits 1).\n\n"
    "Options:\n"
    "  -s, --store DIR    the store directory (required)\n"
    "      --from ID      start at block ID (trusting its recorded predecessor)\n"
    "      --pubkey FILE  trust this public key (hex, as in DIR/signing.pub, which you\n"
    "                     may copy elsewhere); default: DIR/signing.pub\n\n"
    "Exit: 0 intact, 1 broken, 2 usage, 3 runtime error, 4 no break found but some\n"
    "blocks cannot be checked by this binary (rebuild version).\n";

int wk_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"from", required_argument, NULL, 'F'},
        {"pubkey", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *pkfile = NULL;
    unsigned long long from = 0;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
        switch (c) {
        case 's': dir = optarg; break;
        case 'P': pkfile = optarg; break;
        case 'F': {
            char *end;
            errno = 0;
            from = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || optarg[0] == '-') {
                wk_cli_error("verify", "--from wants a block id, got '%s'", optarg);
                return WK_EXIT_USAGE;
            }
            break;
        }
        default:
            wk_cli_error("verify", "unknown option or missing value: '%s' (see --help)",
                         argv[optind - 1]);
            return WK_EXIT_USAGE;
        }
    }
    if (!dir || optind < argc) {
        wk_cli_error("verify", "%s", dir ? "unexpected argument" : "--store DIR is required");
        return WK_EXIT_USAGE;
    }
    uint8_t pk[WK_STORE_PUBKEY_LEN];
    if (pkfile) {
        char text[256];
        int fd = open(pkfile, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text));
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (n < 0) {
            wk_cli_error("verify", "%s: %s", pkfile, strerror(e));
            return WK_EXIT_RUNTIME;
        }
        if (wk_store_pubkey_parse(text, (size_t)n, pk) < 0) {
            wk_cli_error("verify", "%s: not a public key (64 hex digits)", pkfile);
            return WK_EXIT_USAGE;
        }
    }
    struct wk_store_opts so;
    wk_store_opts_init(&so);
    so.read_only = true;
    struct wk_store *st;
    int rc = wk_store_open(&st, dir, &so);
    if (rc == WK_ECORRUPT) {
        wk_cli_error("verify", "store %s is damaged: %s (data file truncated or overwritten)",
                     dir, wk_strerror(rc));
        return WK_EXIT_FOUND;
    }
    if (rc < 0) {
        wk_cli_error("verify", "opening store %s: %s", dir,
                     rc == -ENOENT ? "no store there" : wk_strerror(rc));
        return WK_EXIT_RUNTIME;
    }
    struct wk_store_verify_result res;
    rc = wk_store_verify(st, from, pkfile ? pk : NULL, &res);
    wk_store_close(st);
    if (rc == WK_ECHAIN) {
        wk_cli_error("verify", "%s: chain broken at block %llu: %s", dir,
                     (unsigned long long)res.first_bad, res.reason);
        if (res.unchecked)
            fprintf(stderr, "verify: also %llu blocks before it cannot be checked by this "
                    "binary: %s\n", (unsigned long long)res.unchecked, res.why_unchecked);
        return WK_EXIT_FOUND;
    }
    if (rc == WK_EREBUILD) {
        printf("cannot check: %llu blocks, %llu signed checkpoints verified, no break found; "
               "the records of %llu blocks (rebuild values of another rebuild version) were "
               "not checked\n",
               (unsigned long long)res.blocks, (unsigned long long)res.checkpoints,
               (unsigned long long)res.unchecked);
        wk_cli_error("verify", "%s: cannot check %llu blocks (not a break): %s", dir,
                     (unsigned long long)res.unchecked, res.why_unchecked);
        return WK_EXIT_UNCHECKED;
    }
    if (rc < 0) {
        wk_cli_error("verify", "reading store %s: %s", dir, wk_strerror(rc));
        return WK_EXIT_RUNTIME;
    }
    printf("ok: %llu blocks, %llu signed checkpoints verified\n",
           (unsigned long long)res.blocks, (unsigned long long)res.checkpoints);
    return WK_EXIT_OK;
}
