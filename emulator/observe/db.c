/* The observability database and its writer thread (see db.h). The loop
 * appends records to a pending array under a mutex; the writer swaps the
 * array out and commits it in one transaction, so the loop never waits on
 * the disk and the disk sees one fsync-free commit per batch (WAL with
 * synchronous=NORMAL: a crash may lose the last batch of observations, never
 * corrupt the file, and never touches the queues' database). */
#include "observe/db.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "observe/sqlmem.h"

#define STMT_CACHE 64

struct observe_conn {
    sqlite3 *db;
    const char *keys[STMT_CACHE];
    sqlite3_stmt *stmts[STMT_CACHE];
};

typedef struct {
    observe_write_fn write;
    observe_free_fn free_rec;
    void *rec;
} job_t;

typedef struct {
    job_t *v;
    size_t n, cap;
} jobs_t;

struct observe_db {
    observe_conn_t writer, reader;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    /* The writer's connection is opened without SQLite's own mutex (which
     * every call on it took: about 0.7k instructions an API request);
     * this lock keeps its users apart instead, taken once per batch by the
     * writer thread and by observe_db_schema on the loop. */
    pthread_mutex_t conn_mu;
    pthread_cond_t wake;      /* writer: work, flush request or stop */
    pthread_cond_t committed; /* flushers: committed_seq moved */
    jobs_t pending;
    uint64_t submitted_seq;   /* records handed over so far */
    uint64_t committed_seq;   /* records written (or dropped) so far */
    int flush_wanted;
    int stop;
    uint64_t dropped;
    int failing;              /* the last batch failed: log once until one succeeds */
    struct {
        observe_write_fn fn;
        void *ctx;
    } hooks[OBSERVE_DB_MAX_HOOKS];
    size_t n_hooks;
};

/* Each connection has one user at a time (the reader: the loop thread; the
 * writer: its thread, or the loop under conn_mu), so neither takes
 * SQLite's connection mutex. */
static int conn_open(observe_conn_t *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        c->db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(c->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16384;", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(c->db);
        c->db = NULL;
        return -1;
    }
    return 0;
}

static void conn_close(observe_conn_t *c)
{
    for (int i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
    memset(c, 0, sizeof *c);
}

sqlite3_stmt *observe_conn_stmt(observe_conn_t *c, const char *sql)
{
    size_t h = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t k = 0; k < STMT_CACHE; k++) {
        size_t i = (h + k) % STMT_CACHE;
        if (c->keys[i] == sql) {
            sqlite3_reset(c->stmts[i]);
            sqlite3_clear_bindings(c->stmts[i]);
            return c->stmts[i];
        }
        if (!c->keys[i]) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
                log_error("msg=\"observe db prepare failed\" error=\"%s\"", sqlite3_errmsg(c->db));
                return NULL;
            }
            c->keys[i] = sql;
            c->stmts[i] = st;
            return st;
        }
    }
    /* Cache full: a bug (more distinct statements than STMT_CACHE). */
    log_error("msg=\"observe db statement cache full\"");
    return NULL;
}

sqlite3 *observe_conn_handle(observe_conn_t *c) { return c->db; }

static void run_batch(observe_db_t *d, jobs_t *batch)
{
    int failed = 0;
    char *msg = NULL;
    pthread_mutex_lock(&d->conn_mu);
    if (sqlite3_exec(d->writer.db, "BEGIN", NULL, NULL, &msg) != SQLITE_OK) {
        failed = 1;
        sqlite3_free(msg);
        msg = NULL;
    }
    for (size_t i = 0; i < batch->n; i++) {
        job_t *j = &batch->v[i];
        if (!failed && j->write && j->write(&d->writer, j->rec))
            failed = 1;
        if (j->free_rec)
            j->free_rec(j->rec);
    }
    /* Hooks run even after a failure, so what they gathered is dropped with
     * the batch, not carried into the next one. */
    pthread_mutex_lock(&d->mu);
    size_t n_hooks = d->n_hooks;
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < n_hooks; i++)
        if (d->hooks[i].fn(&d->writer, d->hooks[i].ctx) && !failed)
            failed = 1;
    if (!failed && sqlite3_exec(d->writer.db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
        failed = 1;
    if (failed) {
        if (!d->failing)
            log_warn("msg=\"observe db write failed; observations of this batch are dropped\" error=\"%s\"",
                     msg ? msg : sqlite3_errmsg(d->writer.db));
        sqlite3_exec(d->writer.db, "ROLLBACK", NULL, NULL, NULL);
    } else if (d->failing) {
        log_info("msg=\"observe db writes work again\"");
    }
    sqlite3_free(msg);
    pthread_mutex_unlock(&d->conn_mu);
    pthread_mutex_lock(&d->mu);
    if (failed)
        d->dropped += batch->n;
    d->failing = failed;
    d->committed_seq += batch->n;
    pthread_cond_broadcast(&d->committed);
    pthread_mutex_unlock(&d->mu);
    batch->n = 0;
}

static void *writer_main(void *arg)
{
    observe_db_t *d = arg;
    jobs_t batch = {0};
    pthread_mutex_lock(&d->mu);
    for (;;) {
        if (!d->pending.n && !d->stop) {
            if (d->flush_wanted) {
                d->flush_wanted = 0;
                pthread_cond_broadcast(&d->committed);
            }
            struct timespec until = clock_deadline(CLOCK_REALTIME, OBSERVE_DB_BATCH_MS);
            pthread_cond_timedwait(&d->wake, &d->mu, &until);
        }
        if (!d->pending.n && d->stop)
            break;
        /* Wait out the batch window unless a flush, a stop or a full batch. */
        if (d->pending.n && d->pending.n < OBSERVE_DB_BATCH_MAX && !d->flush_wanted && !d->stop) {
            struct timespec until = clock_deadline(CLOCK_REALTIME, OBSERVE_DB_BATCH_MS);
            pthread_cond_timedwait(&d->wake, &d->mu, &until);
        }
        jobs_t tmp = d->pending;
        d->pending = batch;
        batch = tmp;
        pthread_mutex_unlock(&d->mu);
        if (batch.n)
            run_batch(d, &batch);
        pthread_mutex_lock(&d->mu);
    }
    pthread_cond_broadcast(&d->committed);
    pthread_mutex_unlock(&d->mu);
    free(batch.v);
    return NULL;
}

void observe_db_process_init(void)
{
    if (sqlmem_install())
        log_warn("msg=\"SQLite kept its own allocator\" why=\"sqlite3_config refused: SQLite was already in use\"");
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

observe_db_t *observe_db_open(const char *data_dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/observe.db", data_dir);
    observe_db_t *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    if (conn_open(&d->writer, path, err, errlen) || conn_open(&d->reader, path, err, errlen)) {
        conn_close(&d->writer);
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_mutex_init(&d->conn_mu, NULL);
    pthread_cond_init(&d->wake, NULL);
    pthread_cond_init(&d->committed, NULL);
    return d;
}

int observe_db_schema(observe_db_t *d, const char *sql)
{
    char *msg = NULL;
    pthread_mutex_lock(&d->conn_mu); /* the writer thread may have started */
    int rc = sqlite3_exec(d->writer.db, sql, NULL, NULL, &msg) == SQLITE_OK ? 0 : -1;
    pthread_mutex_unlock(&d->conn_mu);
    if (rc) {
        log_error("msg=\"observe db schema failed\" error=\"%s\"", msg ? msg : "?");
        sqlite3_free(msg);
    }
    return rc;
}

int observe_db_on_batch_end(observe_db_t *d, observe_write_fn fn, void *ctx)
{
    if (!d)
        return -1;
    /* The writer reads the count under the mutex, then only slots below it. */
    pthread_mutex_lock(&d->mu);
    int rc = -1;
    if (d->n_hooks < OBSERVE_DB_MAX_HOOKS) {
        d->hooks[d->n_hooks].fn = fn;
        d->hooks[d->n_hooks].ctx = ctx;
        d->n_hooks++;
        rc = 0;
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

static void start_writer(observe_db_t *d)
{
    if (d->thread_started)
        return;
    /* Signals stay with the loop thread (libevent's handlers, SIGCHLD). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&d->thread, NULL, writer_main, d) == 0)
        d->thread_started = 1;
    else
        log_error("msg=\"observe db writer thread did not start; observations are dropped\"");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void observe_db_submit(observe_db_t *d, observe_write_fn write, void *rec, observe_free_fn free_rec)
{
    if (!d) {
        if (free_rec)
            free_rec(rec);
        return;
    }
    start_writer(d);
    pthread_mutex_lock(&d->mu);
    if (!d->thread_started || d->pending.n >= OBSERVE_DB_MAX_PENDING) {
        d->dropped++;
        pthread_mutex_unlock(&d->mu);
        if (free_rec)
            free_rec(rec);
        return;
    }
    if (d->pending.n == d->pending.cap) {
        d->pending.cap = d->pending.cap ? d->pending.cap * 2 : 256;
        d->pending.v = xrealloc(d->pending.v, d->pending.cap * sizeof *d->pending.v);
    }
    d->pending.v[d->pending.n++] = (job_t){write, free_rec, rec};
    d->submitted_seq++;
    if (d->pending.n == OBSERVE_DB_BATCH_MAX)
        pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->mu);
}

void observe_db_flush(observe_db_t *d)
{
    if (!d || !d->thread_started)
        return;
    pthread_mutex_lock(&d->mu);
    uint64_t target = d->submitted_seq;
    while (d->committed_seq < target && !d->stop) {
        d->flush_wanted = 1;
        pthread_cond_signal(&d->wake);
        pthread_cond_wait(&d->committed, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
}

observe_conn_t *observe_db_reader(observe_db_t *d) { return d ? &d->reader : NULL; }

uint64_t observe_db_dropped(const observe_db_t *d)
{
    if (!d)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    uint64_t n = d->dropped;
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return n;
}

void observe_db_close(observe_db_t *d)
{
    if (!d)
        return;
    if (d->thread_started) {
        pthread_mutex_lock(&d->mu);
        d->stop = 1;
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->mu);
        pthread_join(d->thread, NULL);
    }
    for (size_t i = 0; i < d->pending.n; i++)
        if (d->pending.v[i].free_rec)
            d->pending.v[i].free_rec(d->pending.v[i].rec);
    free(d->pending.v);
    conn_close(&d->reader);
    conn_close(&d->writer);
    pthread_cond_destroy(&d->committed);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->conn_mu);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
