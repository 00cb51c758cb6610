/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper run: the collector daemon (collector/daemon.c does the work). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "watchkeeper/daemon.h"

const char wk_cmd_run_usage[] =
    "usage: watchkeeper run [-c FILE] [--once] [--store DIR] [--api SOCKET]\n\n"
    "Run the collector: read the configured sources, store their events with their\n"
    "cursors, evaluate the live rules and write alerts to the outputs.\n\n"
    "  -c, --config FILE  the YAML config (packaging/watchkeeper.yaml documents it);\n"
    "                     without one: store in /var/lib/watchkeeper, the sources found\n"
    "                     on this host (Docker socket, audit log, container logs)\n"
    "      --once         process what the sources hold now, commit, and exit\n"
    "      --store DIR    use DIR as store.path\n"
    "      --api SOCKET   serve the local API on SOCKET ('' disables it)\n\n"
    "Signals: SIGHUP reloads the config and rules (a bad set is rejected, the running one\n"
    "kept); SIGTERM/SIGINT drain and commit within pipeline.drain_timeout (10 s), a second\n"
    "one exits at once. Under systemd it notifies READY, RELOADING, STOPPING, WATCHDOG.\n"
    "Exit: 0 stopped cleanly (--once: and no alert), 1 --once raised alerts, 2 usage,\n"
    "3 config/store error or drain timeout.\n";

int wk_cmd_run(int argc, char **argv)
{
    static const struct option lo[] = {
        { "config", required_argument, NULL, 'c' },
        { "once", no_argument, NULL, 'o' },
        { "store", required_argument, NULL, 's' },
        { "api", required_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 },
    };
    struct wk_daemon_opts o = { 0 };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case 'o': o.once = true; break;
        case 's': o.store_path = optarg; break;
        case 'a': o.api_socket = optarg; break;
        default:
            wk_cli_error("run", "unknown option '%s' (see 'watchkeeper run --help')",
                         argv[optind - 1]);
            return WK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        wk_cli_error("run", "unexpected argument '%s'", argv[optind]);
        return WK_EXIT_USAGE;
    }
    return wk_daemon_run(&o);
}
