/* The WAL syncer of `durability: full` (sqs/wal_sync.h): one thread that
 * fdatasyncs the WAL file whenever commits newer than its last sync wait,
 * and an eventfd that wakes the loop after each sync. Commits that land
 * while a sync runs are covered by the next one, so under load one sync
 * covers many loop turns' commits (a group commit of the disk's writes).
 *
 * Why a sync of our own descriptor is enough: fdatasync flushes the file's
 * data whichever descriptor names it, and SQLite itself syncs the WAL header
 * each time the WAL starts again and syncs the WAL before every checkpoint
 * copies it, at synchronous=NORMAL as at FULL. */
#include "sqs/wal_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"

struct sqs_wal_sync {
    char *path;
    int fd;  /* the WAL, opened by the thread at its first sync */
    int efd; /* eventfd: the thread's "a sync finished" to the loop */
    struct event *ev;
    sqs_wal_synced_fn fn;
    void *arg;
    int delay_ms; /* SLUICE_TEST_SYNC_DELAY_MS */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Under mu: */
    int stop;
    int64_t asked;       /* the newest commit a sync was asked for */
    int64_t done;        /* every commit up to this is synced (or failed) */
    int64_t failed_upto; /* commits up to this were in a failed sync */
    int err;             /* errno of the last failed sync */
};

/* One sync of the WAL: 0 or an errno. */
static int sync_once(sqs_wal_sync_t *w)
{
    if (w->delay_ms > 0) {
        struct timespec d = {w->delay_ms / 1000, (long)(w->delay_ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
    }
    if (w->fd < 0) {
        w->fd = open(w->path, O_RDONLY | O_CLOEXEC);
        if (w->fd < 0)
            return errno;
    }
    if (fdatasync(w->fd) < 0)
        return errno;
    return 0;
}

static void *worker(void *arg)
{
    sqs_wal_sync_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->asked <= w->done)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        int64_t target = w->asked; /* every commit asked so far is in the file */
        pthread_mutex_unlock(&w->mu);
        int err = sync_once(w);
        pthread_mutex_lock(&w->mu);
        w->done = target;
        if (err) {
            w->failed_upto = target;
            w->err = err;
        }
        pthread_mutex_unlock(&w->mu);
        uint64_t one = 1;
        ssize_t n = write(w->efd, &one, sizeof one); /* only fails when the counter is full: the loop wakes anyway */
        (void)n;
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* On the loop: one or more syncs finished. */
static void synced_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    sqs_wal_sync_t *w = arg;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n);
    (void)r;
    pthread_mutex_lock(&w->mu);
    int64_t done = w->done, failed = w->failed_upto;
    int err = w->err;
    pthread_mutex_unlock(&w->mu);
    w->fn(w->arg, done, failed, err);
}

sqs_wal_sync_t *sqs_wal_sync_new(struct event_base *base, const char *wal_path, sqs_wal_synced_fn fn, void *arg)
{
    sqs_wal_sync_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = -1;
    w->fn = fn;
    w->arg = arg;
    w->path = strdup(wal_path);
    const char *delay = getenv("SLUICE_TEST_SYNC_DELAY_MS");
    if (delay && *delay) {
        w->delay_ms = atoi(delay);
        log_warn("msg=\"test only: each WAL sync waits %d ms first (SLUICE_TEST_SYNC_DELAY_MS)\"", w->delay_ms);
    }
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w->path || w->efd < 0) {
        log_error("msg=\"cannot start the WAL syncer\" error=\"%s\"", strerror(errno));
        goto fail;
    }
    w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, synced_cb, w);
    if (!w->ev || event_add(w->ev, NULL) < 0) {
        log_error("msg=\"cannot start the WAL syncer\" error=\"event\"");
        goto fail;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker, w) != 0) {
        log_error("msg=\"cannot start the WAL syncer thread\"");
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        goto fail;
    }
    return w;
fail:
    if (w->ev)
        event_free(w->ev);
    if (w->efd >= 0)
        close(w->efd);
    free(w->path);
    free(w);
    return NULL;
}

void sqs_wal_sync_request(sqs_wal_sync_t *w, int64_t seq)
{
    pthread_mutex_lock(&w->mu);
    if (seq > w->asked) {
        w->asked = seq;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

int sqs_wal_sync_free(sqs_wal_sync_t *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    int err = w->asked > w->done ? sync_once(w) : 0;
    event_free(w->ev);
    close(w->efd);
    if (w->fd >= 0)
        close(w->fd);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->path);
    free(w);
    return err;
}
