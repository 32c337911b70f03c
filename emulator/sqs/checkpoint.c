/* WAL checkpoints off the event loop. The loop's connection commits into
 * the WAL and never checkpoints on its own (its WAL hook replaces SQLite's
 * autocheckpoint); a worker thread with a second connection copies the WAL
 * back into the database with PASSIVE checkpoints, fsyncs included. SQLite
 * only starts the WAL again from its beginning when a writer begins while
 * every frame is copied, which under steady load never happens by itself,
 * so the loop copies the last few frames itself (a short checkpoint) once
 * the worker has done the rest; that bounds the WAL. */
#include "sqs/checkpoint.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define IDLE_MS 1000 /* a quiet WAL is copied back within about this */

struct sqs_ckpt {
    sqlite3 *loop_db; /* the loop's connection (not owned) */
    sqlite3 *db;      /* the worker's */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t idle_cv; /* the worker's pass ended (the loop may wait for it: sqs_ckpt_before_begin) */
    /* Under mu: */
    int stop, wanted, busy, paused;
    int64_t frames;            /* the WAL's length after the loop's last commit */
    int64_t commits;           /* the loop's commits so far */
    int64_t gen;               /* moves each time the WAL starts again */
    int64_t done_gen, done_ckpt; /* frames of WAL generation done_gen copied so far */
    sqs_ckpt_stats_t st;
    int tail_req;  /* the loop paused its writes for the worker's tail pass (sqs_ckpt_tail_start) */
    int tail_done; /* that pass ended; the loop has not taken it yet */
    int efd;       /* eventfd: "the tail pass ended", to the loop; -1: none */
    /* The loop's own: */
    int tail_due;
    int worker_tails_used; /* the owner hands tails to the worker (sqs_ckpt_tail_start was called) */
    int64_t reported; /* passes already logged */
};

/* Runs passes while asked to; waits otherwise. After IDLE_MS without a
 * commit, the frames the loop left uncopied are copied anyway (a quiet WAL
 * ends up fully copied, so the next write starts it again). */
static void *worker(void *arg)
{
    sqs_ckpt_t *c = arg;
    pthread_mutex_lock(&c->mu);
    int64_t seen = -1; /* c->commits at the last wait's end */
    for (;;) {
        while (!c->stop && (!c->wanted || c->paused)) {
            struct timespec until = clock_deadline(CLOCK_MONOTONIC, IDLE_MS);
            int rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
            int64_t copied = c->done_gen == c->gen ? c->done_ckpt : 0;
            if (rc == ETIMEDOUT && !c->paused && c->frames > copied && c->commits == seen)
                c->wanted = 1;
            if (rc == ETIMEDOUT)
                seen = c->commits;
        }
        if (c->stop)
            break;
        c->wanted = 0;
        c->busy = 1;
        int tail = c->tail_req; /* asked before this pass began: it copies every frame */
        int64_t gen = c->gen;
        int64_t before = c->done_gen == gen ? c->done_ckpt : 0;
        pthread_mutex_unlock(&c->mu);

        int64_t t0 = clock_mono_us();
        int n_log = 0, n_ckpt = 0;
        /* The tail pass, with the loop's writes held, copies every frame and
         * starts the WAL again itself, truncated to nothing (TRUNCATE): so the
         * loop's next commit neither copies nor cuts back a long file (the
         * journal_size_limit truncation of a WAL past 40 MB took 10-30 ms
         * there). It waits for the write lock a short while (the loop holds
         * none then) and for readers on older snapshots to finish. */
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, tail ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
                                           &n_log, &n_ckpt);
        int64_t us = clock_mono_us() - t0;

        pthread_mutex_lock(&c->mu);
        c->busy = 0;
        pthread_cond_broadcast(&c->idle_cv);
        if (rc == SQLITE_OK) {
            c->done_gen = gen;
            c->done_ckpt = n_ckpt;
            if (n_ckpt > before) {
                c->st.passes++;
                c->st.pages += n_ckpt - before;
                c->st.last_pass_us = us;
            }
        } else if (rc != SQLITE_BUSY) { /* BUSY: the loop's short checkpoint runs */
            c->st.errors++;
            c->st.last_error = rc;
        }
        if (c->tail_req && (tail || c->paused)) { /* paused: no tail pass will follow */
            c->tail_req = 0;
            c->tail_done = 1;
            if (rc == SQLITE_OK && tail)
                c->st.worker_tails++;
            uint64_t one = 1;
            ssize_t n = write(c->efd, &one, sizeof one);
            (void)n;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* After every commit of the loop's connection (SQLite calls it with the
 * WAL's length in frames): counts restarts, asks the worker for a pass,
 * or marks the loop's short checkpoint due. A mutex and a few compares. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int n_frames)
{
    (void)db;
    (void)name;
    sqs_ckpt_t *c = arg;
    pthread_mutex_lock(&c->mu);
    if (n_frames < c->frames) {
        c->gen++;
        c->st.restarts++;
    }
    c->frames = n_frames;
    c->commits++;
    if (n_frames > c->st.max_wal)
        c->st.max_wal = n_frames;
    /* Past the hard bound, or past the force bound when the owner hands
     * tails to the worker: due even while the worker is in a pass (the
     * worker's tail pass then follows that pass; see also
     * sqs_ckpt_before_begin). A slow pass may last while the loop writes
     * thousands of pages. */
    int force = n_frames >= SQS_CKPT_FORCE_PAGES && c->worker_tails_used && c->efd >= 0;
    if ((n_frames >= SQS_CKPT_HARD_PAGES || force) && !c->paused) {
        c->tail_due = 1;
    } else if (n_frames >= SQS_CKPT_PAGES && !c->busy && !c->wanted && !c->paused) {
        int64_t left = n_frames - (c->done_gen == c->gen ? c->done_ckpt : 0);
        if (n_frames >= SQS_CKPT_RESTART_PAGES && left <= SQS_CKPT_TAIL_PAGES) {
            c->tail_due = 1;
        } else if (left >= SQS_CKPT_PAGES || (n_frames >= SQS_CKPT_RESTART_PAGES && left > SQS_CKPT_TAIL_PAGES)) {
            c->wanted = 1;
            pthread_cond_signal(&c->cv);
        }
    }
    sqs_ckpt_stats_t st = c->st;
    pthread_mutex_unlock(&c->mu);
    if (st.passes != c->reported) {
        c->reported = st.passes;
        log_debug("msg=\"wal checkpoint\" where=worker passes=%lld pages=%lld last_ms=%.1f wal=%d",
                  (long long)st.passes, (long long)st.pages, st.last_pass_us / 1000.0, n_frames);
    }
    return SQLITE_OK;
}

void sqs_ckpt_before_begin(sqs_ckpt_t *c)
{
    if (!c)
        return;
    if (c->tail_req || c->tail_done) {
        /* A write while the worker copies the tail (a timer's, not a
         * client's: those wait in the service): it waits for that pass, so
         * that it begins on a fully copied WAL and restarts it. */
        int64_t t0 = clock_mono_us();
        pthread_mutex_lock(&c->mu);
        while (c->tail_req && !c->stop)
            pthread_cond_wait(&c->idle_cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        log_debug("msg=\"a write waited for the worker's tail copy\" ms=%.2f", (clock_mono_us() - t0) / 1000.0);
        return;
    }
    if (!c->tail_due)
        return;
    c->tail_due = 0;
    pthread_mutex_lock(&c->mu);
    int64_t wal = c->frames;
    /* Past the hard bound and a few more pages, the loop waits for the
     * worker's pass to end rather than let the WAL grow by all it commits
     * meanwhile: on a disk slower than the load, passes take seconds, and
     * the WAL had no bound but the pass's length. */
    int waited = 0;
    while (c->busy && !c->paused && wal >= SQS_CKPT_HARD_PAGES + SQS_CKPT_WAIT_PAGES) {
        pthread_cond_wait(&c->idle_cv, &c->mu);
        waited = 1;
    }
    int skip = c->busy || c->paused;
    if (skip && wal >= SQS_CKPT_HARD_PAGES && !c->paused)
        c->tail_due = 1; /* asked again at the next commit */
    pthread_mutex_unlock(&c->mu);
    if (skip)
        return; /* the worker is at it; asked again at the next commit */
    if (waited)
        log_warn("msg=\"the loop waited for the WAL checkpoint (the disk is slower than the load)\" wal_pages=%lld",
                 (long long)wal);
    if (wal >= SQS_CKPT_HARD_PAGES)
        log_warn("msg=\"the WAL outgrew its checkpoints (the disk is slower than the load); the loop copies it "
                 "back now\" wal_pages=%lld",
                 (long long)wal);
    int64_t t0 = clock_mono_us();
    int n_log = 0, n_ckpt = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->loop_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_ckpt);
    int64_t us = clock_mono_us() - t0;
    pthread_mutex_lock(&c->mu);
    if (rc == SQLITE_OK) {
        c->st.tails++;
        c->done_gen = c->gen;
        c->done_ckpt = n_ckpt;
    } else if (rc != SQLITE_BUSY) {
        c->st.errors++;
        c->st.last_error = rc;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warn("msg=\"wal checkpoint failed\" where=loop error=\"%s\"", sqlite3_errstr(rc));
    else
        log_debug("msg=\"wal checkpoint\" where=loop wal=%d copied=%d ms=%.2f", n_log, n_ckpt, us / 1000.0);
}

int sqs_ckpt_tail_start(sqs_ckpt_t *c)
{
    if (c)
        c->worker_tails_used = 1;
    if (!c || c->efd < 0 || !c->tail_due)
        return -1;
    pthread_mutex_lock(&c->mu);
    int64_t wal = c->frames;
    int ok = !c->paused && wal < SQS_CKPT_HARD_PAGES; /* past it: the loop's own, at once */
    if (ok) {
        c->tail_due = 0;
        c->tail_req = 1;
        c->wanted = 1;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return ok ? 0 : -1;
}

int sqs_ckpt_tail_fd(const sqs_ckpt_t *c) { return c ? c->efd : -1; }

int sqs_ckpt_tail_end(sqs_ckpt_t *c)
{
    if (!c || c->efd < 0)
        return 0;
    uint64_t n;
    ssize_t r = read(c->efd, &n, sizeof n);
    (void)r;
    pthread_mutex_lock(&c->mu);
    int done = c->tail_done;
    c->tail_done = 0;
    int64_t wal = c->frames;
    pthread_mutex_unlock(&c->mu);
    if (done)
        log_debug("msg=\"wal checkpoint\" where=worker-tail wal=%lld", (long long)wal);
    return done;
}

sqs_ckpt_t *sqs_ckpt_start(sqlite3 *db, const char *path, const char *vfs, int full)
{
    if (!sqlite3_threadsafe()) {
        log_warn("msg=\"sqlite is built without threads: WAL checkpoints stay on the loop\"");
        return NULL;
    }
    sqs_ckpt_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop_db = db;
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); /* -1: the loop copies the tail itself */
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&c->idle_cv, NULL);
    char *msg = NULL;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs) != SQLITE_OK ||
        sqlite3_exec(c->db,
                     full ? "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0"
                          : "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0",
                     NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_busy_timeout(c->db, 200) != SQLITE_OK) {
        log_error("msg=\"cannot open the checkpointer's connection; WAL checkpoints stay on the loop\" path=%s "
                  "error=\"%s\"",
                  path, msg ? msg : c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_free(msg);
        goto fail;
    }
    if (pthread_create(&c->thread, NULL, worker, c) != 0) {
        log_error("msg=\"cannot start the checkpointer thread; WAL checkpoints stay on the loop\"");
        goto fail;
    }
    /* Replaces the autocheckpoint, which is itself a WAL hook. */
    sqlite3_wal_hook(db, wal_hook, c);
    return c;
fail:
    sqlite3_close(c->db);
    if (c->efd >= 0)
        close(c->efd);
    pthread_cond_destroy(&c->idle_cv);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return NULL;
}

void sqs_ckpt_pause(sqs_ckpt_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->paused = 1;
    c->tail_due = 0;
    if (c->tail_req && !c->busy) {
        /* the pass asked for will not run: the loop's writes go on */
        c->tail_req = 0;
        c->tail_done = 1;
        uint64_t one = 1;
        ssize_t n = write(c->efd, &one, sizeof one);
        (void)n;
    }
    pthread_cond_broadcast(&c->idle_cv);
    pthread_mutex_unlock(&c->mu);
}

void sqs_ckpt_stats(sqs_ckpt_t *c, sqs_ckpt_stats_t *out)
{
    if (!c) {
        *out = (sqs_ckpt_stats_t){0};
        return;
    }
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

void sqs_ckpt_stop(sqs_ckpt_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_wal_hook(c->loop_db, NULL, NULL);
    sqlite3_close(c->db);
    if (c->efd >= 0)
        close(c->efd);
    pthread_cond_destroy(&c->idle_cv);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
