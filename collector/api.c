/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's local HTTP API on a unix socket (GET /status, what `watchkeeper status`
 * prints). libmicrohttpd runs without a thread of its own: we create the listening socket,
 * MHD uses epoll, and the libuv loop watches MHD's epoll fd and honours its timeout, so
 * requests are served on the loop thread next to the state they report.
 */
#include "config.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon_private.h"
#include "watchkeeper/mem.h"

struct wk_api {
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
    char *path;
    json_t *(*status)(void *arg);
    void *arg;
};

static enum MHD_Result api_reply(struct MHD_Connection *c, unsigned code, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    (void)MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result api_handler(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
    struct wk_api *api = cls;
    if (strcmp(method, "GET") != 0)
        return api_reply(c, 405, "{\"error\":\"method not allowed\"}\n");
    if (strcmp(url, "/status") != 0)
        return api_reply(c, 404, "{\"error\":\"not found\"}\n");
    json_t *st = api->status(api->arg);
    char *body = st ? json_dumps(st, JSON_INDENT(2)) : NULL;
    json_decref(st);
    if (!body)
        return api_reply(c, 500, "{\"error\":\"out of memory\"}\n");
    size_t l = strlen(body);
    char *nb = realloc(body, l + 2);
    if (nb) {
        body = nb;
        memcpy(body + l, "\n", 2);
    }
    enum MHD_Result r = api_reply(c, 200, body);
    free(body);
    return r;
}

static void api_run(struct wk_api *api);

static void on_api_timer(uv_timer_t *t)
{
    api_run(wk_container_of(t, struct wk_api, timer));
}

static void on_api_poll(uv_poll_t *p, int status, int events)
{
    api_run(wk_container_of(p, struct wk_api, poll));
}

/* Let MHD do what is ready, then arm the timer for its next timeout. */
static void api_run(struct wk_api *api)
{
    if (!api->mhd)
        return;
    (void)MHD_run(api->mhd);
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(api->mhd, &to) == MHD_YES)
        uv_timer_start(&api->timer, on_api_timer, to, 0);
    else
        uv_timer_stop(&api->timer);
}

static void api_closed(uv_handle_t *h)
{
    struct wk_api *api = h->data;
    if (--api->open_handles == 0) {
        free(api->path);
        free(api);
    }
}

static int api_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: socket path too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    /* /run/watchkeeper is made by systemd (RuntimeDirectory=); elsewhere, make it. */
    char parent[sizeof(sa.sun_path)];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (mkdir(parent, 0750) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", parent, strerror(errno));
            return -errno;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    /* A socket file left by a daemon that died is replaced; a live one is not. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            close(fd);
            snprintf(err, errlen, "%s: another watchkeeper is listening there", path);
            return -EADDRINUSE;
        }
        if (probe >= 0)
            close(probe);
        (void)unlink(path);
    }
    mode_t old = umask(0117); /* srw-rw----: root and the group may ask */
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0 || listen(fd, 16) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    return fd;
}

int wk__api_start(struct wk_api **out, uv_loop_t *loop, const char *path,
                  json_t *(*status)(void *arg), void *arg, char *err, size_t errlen)
{
    int fd = api_listen(path, err, errlen);
    if (fd < 0)
        return fd;
    struct wk_api *api = wk_new0(struct wk_api, 1);
    if (!api || !(api->path = strdup(path))) {
        free(api);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    api->status = status;
    api->arg = arg;
    api->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL,
                                api_handler, api, MHD_OPTION_LISTEN_SOCKET, fd,
                                MHD_OPTION_CONNECTION_LIMIT, 16u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!api->mhd) {
        snprintf(err, errlen, "%s: libmicrohttpd failed to start", path);
        close(fd);
        (void)unlink(path);
        free(api->path);
        free(api);
        return -EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    int rc = info ? 0 : -EIO;
    if (rc == 0)
        rc = uv_poll_init(loop, &api->poll, info->epoll_fd);
    if (rc == 0) {
        api->open_handles++;
        api->poll.data = api;
        rc = uv_timer_init(loop, &api->timer);
    }
    if (rc == 0) {
        api->open_handles++;
        api->timer.data = api;
        rc = uv_poll_start(&api->poll, UV_READABLE, on_api_poll);
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: watching the API: %s", path, uv_strerror(rc));
        wk__api_stop(api);
        return rc;
    }
    api_run(api);
    *out = api;
    return 0;
}

void wk__api_stop(struct wk_api *api)
{
    if (!api)
        return;
    int n = api->open_handles;
    /* Stop watching MHD's epoll fd before MHD closes it. */
    if (n >= 1) {
        uv_poll_stop(&api->poll);
        uv_close((uv_handle_t *)&api->poll, api_closed);
    }
    if (n >= 2) {
        uv_timer_stop(&api->timer);
        uv_close((uv_handle_t *)&api->timer, api_closed);
    }
    if (api->mhd) {
        MHD_stop_daemon(api->mhd); /* closes the listening socket we gave it */
        api->mhd = NULL;
        (void)unlink(api->path);
    }
    if (n == 0) {
        free(api->path);
        free(api);
    }
}
