/* A VFS that gathers a transaction's WAL frame writes (see walbuf.h).
 *
 * Every file opened through it is wrapped; only WAL files buffer. The main
 * database's wrapper knows its WAL's (linked at the WAL's open), so the WAL
 * index's memory barrier can write a buffer that is still there, the last
 * line of defence should SQLite ever write a commit frame differently from
 * the header-then-page pair this file recognises (`late` counts that). */
#include "sqs/walbuf.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* A longer run is written in pieces, a larger single write straight through.
 * Under 128 KiB: SQLite's unix VFS writes at most 0x1ffff bytes per call
 * (os_unix.c, seekAndWriteFd masks the length), and a length that is a
 * multiple of 128 KiB becomes a write of nothing, answered SQLITE_FULL. */
#define BUF_CAP (120 * 1024)
#define FRAME_HEADER 24      /* a WAL frame's header: page number, then database size (non-zero: a commit) */

typedef struct wb_file wb_file_t;
struct wb_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
    int is_wal;
    /* WAL files: */
    unsigned char *buf;
    size_t len;
    sqlite3_int64 off;  /* the file offset of buf[0] */
    int commit_page;    /* the last write was a commit frame's header: its page ends the transaction */
    int err;            /* a write the memory barrier made failed: the next call on the file answers it */
    wb_file_t *main_db; /* the database whose WAL this is, while both are open */
    /* Main databases: */
    const char *name;
    wb_file_t *wal;
    wb_file_t *next; /* the open main databases (under mu) */
};

typedef struct {
    sqlite3_vfs vfs;
    char name[64];
} wb_vfs_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static wb_file_t *mains; /* under mu */
static wb_vfs_t vfses[4];
static int n_vfses;
static uint64_t st_writes, st_syscalls, st_late, st_late_failed;

#define REAL(f) (((wb_file_t *)(f))->real)
#define COUNT(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)

static int flush(wb_file_t *w)
{
    if (!w->len)
        return SQLITE_OK;
    COUNT(st_syscalls);
    int rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->off);
    w->len = 0;
    return rc;
}

static int wb_close(sqlite3_file *f)
{
    wb_file_t *w = (wb_file_t *)f;
    int rc = SQLITE_OK;
    if (w->is_wal) {
        rc = flush(w);
        pthread_mutex_lock(&mu);
        if (w->main_db)
            w->main_db->wal = NULL;
        pthread_mutex_unlock(&mu);
        free(w->buf);
        w->buf = NULL;
    } else if (w->name) {
        pthread_mutex_lock(&mu);
        for (wb_file_t **p = &mains; *p; p = &(*p)->next)
            if (*p == w) {
                *p = w->next;
                break;
            }
        if (w->wal)
            w->wal->main_db = NULL;
        pthread_mutex_unlock(&mu);
    }
    int rc2 = w->real->pMethods->xClose(w->real);
    return rc != SQLITE_OK ? rc : rc2;
}

/* A failed write of the memory barrier's, answered (once) to the next call
 * on the WAL: its error, or SQLITE_OK. */
static int take_error(wb_file_t *w)
{
    int rc = w->err;
    w->err = 0;
    return rc;
}

/* A WAL file's buffer, written out before anything else touches the file
 * (and a failed write of the memory barrier's answered first). */
static int flushed(sqlite3_file *f)
{
    wb_file_t *w = (wb_file_t *)f;
    int rc = take_error(w);
    return rc != SQLITE_OK ? rc : flush(w);
}

#define FLUSHED(f)                                                                                                \
    do {                                                                                                          \
        int rc_ = flushed(f);                                                                                     \
        if (rc_ != SQLITE_OK)                                                                                     \
            return rc_;                                                                                           \
    } while (0)

static int wb_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    FLUSHED(f);
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}

static int wb_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    wb_file_t *w = (wb_file_t *)f;
    if (!w->is_wal)
        return w->real->pMethods->xWrite(w->real, b, n, o);
    COUNT(st_writes);
    int err = take_error(w);
    if (err != SQLITE_OK)
        return err;
    if (w->len && (o != w->off + (sqlite3_int64)w->len || w->len + (size_t)n > BUF_CAP)) {
        int rc = flush(w);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (!w->buf)
        w->buf = malloc(BUF_CAP); /* none: every write goes straight through */
    int rc = SQLITE_OK;
    if (w->buf && (size_t)n <= BUF_CAP) {
        if (!w->len)
            w->off = o;
        memcpy(w->buf + w->len, b, (size_t)n);
        w->len += (size_t)n;
    } else {
        COUNT(st_syscalls);
        rc = w->real->pMethods->xWrite(w->real, b, n, o);
    }
    if (w->commit_page) {
        /* the commit frame is complete: into the file before SQLite
         * publishes it in the WAL index, with any error to the COMMIT */
        w->commit_page = 0;
        int rc2 = flush(w);
        if (rc == SQLITE_OK)
            rc = rc2;
    } else if (n == FRAME_HEADER) {
        const unsigned char *h = b;
        w->commit_page = (h[4] | h[5] | h[6] | h[7]) != 0;
    }
    return rc;
}

static int wb_truncate(sqlite3_file *f, sqlite3_int64 n)
{
    FLUSHED(f);
    return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int wb_sync(sqlite3_file *f, int fl)
{
    FLUSHED(f);
    return REAL(f)->pMethods->xSync(REAL(f), fl);
}
static int wb_size(sqlite3_file *f, sqlite3_int64 *n)
{
    FLUSHED(f);
    return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int wb_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int wb_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int wb_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int wb_control(sqlite3_file *f, int op, void *a)
{
    FLUSHED(f);
    return REAL(f)->pMethods->xFileControl(REAL(f), op, a);
}
static int wb_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int wb_chars(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int wb_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}
static int wb_shm_lock(sqlite3_file *f, int ofst, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), ofst, n, flags);
}
/* SQLite calls it, among other times, between writing a transaction's
 * frames and making them visible in the WAL index: a commit's frames are in
 * the file by then (wb_write), and whatever else is buffered (frames a
 * transaction spilled before its commit) is written here too. A failure
 * here cannot be answered to this call; the next call on the WAL answers
 * it, so the transaction fails before its commit frame is written. */
static void wb_shm_barrier(sqlite3_file *f)
{
    wb_file_t *w = (wb_file_t *)f;
    wb_file_t *wal = w->wal; /* the loop's connection: opened, used and closed on one thread */
    if (wal && wal->len) {
        COUNT(st_late);
        int rc = flush(wal);
        if (rc != SQLITE_OK) {
            COUNT(st_late_failed);
            if (!wal->err)
                wal->err = rc;
            log_error("msg=\"a WAL write failed at the memory barrier\" file=%s", w->name ? w->name : "?");
        }
    }
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int wb_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int wb_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int wb_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }
#undef REAL

/* One table per version of the wrapped file's methods (a version-1 file
 * has no shared memory; only version 3 maps the file). */
static const sqlite3_io_methods io_v3 = {
    .iVersion = 3, .xClose = wb_close, .xRead = wb_read, .xWrite = wb_write, .xTruncate = wb_truncate,
    .xSync = wb_sync, .xFileSize = wb_size, .xLock = wb_lock, .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_reserved, .xFileControl = wb_control, .xSectorSize = wb_sector,
    .xDeviceCharacteristics = wb_chars, .xShmMap = wb_shm_map, .xShmLock = wb_shm_lock,
    .xShmBarrier = wb_shm_barrier, .xShmUnmap = wb_shm_unmap, .xFetch = wb_fetch, .xUnfetch = wb_unfetch};
static const sqlite3_io_methods io_v2 = {
    .iVersion = 2, .xClose = wb_close, .xRead = wb_read, .xWrite = wb_write, .xTruncate = wb_truncate,
    .xSync = wb_sync, .xFileSize = wb_size, .xLock = wb_lock, .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_reserved, .xFileControl = wb_control, .xSectorSize = wb_sector,
    .xDeviceCharacteristics = wb_chars, .xShmMap = wb_shm_map, .xShmLock = wb_shm_lock,
    .xShmBarrier = wb_shm_barrier, .xShmUnmap = wb_shm_unmap};
static const sqlite3_io_methods io_v1 = {
    .iVersion = 1, .xClose = wb_close, .xRead = wb_read, .xWrite = wb_write, .xTruncate = wb_truncate,
    .xSync = wb_sync, .xFileSize = wb_size, .xLock = wb_lock, .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_reserved, .xFileControl = wb_control, .xSectorSize = wb_sector,
    .xDeviceCharacteristics = wb_chars};

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    sqlite3_vfs *real = vfs->pAppData;
    wb_file_t *w = (wb_file_t *)f;
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)(w + 1);
    int rc = real->xOpen(real, name, w->real, flags, out);
    if (rc != SQLITE_OK || !w->real->pMethods)
        return rc;
    int v = w->real->pMethods->iVersion;
    w->base.pMethods = v >= 3 ? &io_v3 : v == 2 ? &io_v2 : &io_v1;
    if ((flags & SQLITE_OPEN_WAL) && name) {
        w->is_wal = 1;
        /* the very name SQLite opened the database with: the same
         * connection's, not another connection's on the same file */
        const char *db = sqlite3_filename_database(name);
        pthread_mutex_lock(&mu);
        for (wb_file_t *m = mains; m; m = m->next)
            if (m->name == db && !m->wal) {
                m->wal = w;
                w->main_db = m;
                break;
            }
        pthread_mutex_unlock(&mu);
    } else if ((flags & SQLITE_OPEN_MAIN_DB) && name) {
        w->name = name; /* SQLite's, valid while the file is open */
        pthread_mutex_lock(&mu);
        w->next = mains;
        mains = w;
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

#define VFS_OF(v) ((sqlite3_vfs *)(v)->pAppData)
static int wb_delete(sqlite3_vfs *v, const char *n, int d) { return VFS_OF(v)->xDelete(VFS_OF(v), n, d); }
static int wb_access(sqlite3_vfs *v, const char *n, int fl, int *o) { return VFS_OF(v)->xAccess(VFS_OF(v), n, fl, o); }
static int wb_path(sqlite3_vfs *v, const char *n, int k, char *o) { return VFS_OF(v)->xFullPathname(VFS_OF(v), n, k, o); }
static int wb_random(sqlite3_vfs *v, int n, char *o) { return VFS_OF(v)->xRandomness(VFS_OF(v), n, o); }
static int wb_sleep(sqlite3_vfs *v, int us) { return VFS_OF(v)->xSleep(VFS_OF(v), us); }
static int wb_time(sqlite3_vfs *v, double *t) { return VFS_OF(v)->xCurrentTime(VFS_OF(v), t); }
static int wb_error(sqlite3_vfs *v, int n, char *o) { return VFS_OF(v)->xGetLastError(VFS_OF(v), n, o); }
#undef VFS_OF

const char *walbuf_vfs(const char *base)
{
    sqlite3_vfs *real = sqlite3_vfs_find(base);
    if (!real)
        return NULL;
    pthread_mutex_lock(&mu);
    const char *name = NULL;
    for (int i = 0; i < n_vfses && !name; i++)
        if (vfses[i].vfs.pAppData == real)
            name = vfses[i].name;
    if (!name && n_vfses < (int)(sizeof vfses / sizeof vfses[0])) {
        wb_vfs_t *v = &vfses[n_vfses++];
        snprintf(v->name, sizeof v->name, "sluice-walbuf-%s", real->zName);
        v->vfs = (sqlite3_vfs){.iVersion = 1, .szOsFile = (int)sizeof(wb_file_t) + real->szOsFile,
                               .mxPathname = real->mxPathname, .zName = v->name, .pAppData = real,
                               .xOpen = wb_open, .xDelete = wb_delete, .xAccess = wb_access,
                               .xFullPathname = wb_path, .xRandomness = wb_random, .xSleep = wb_sleep,
                               .xCurrentTime = wb_time, .xGetLastError = wb_error};
        if (sqlite3_vfs_register(&v->vfs, 0) == SQLITE_OK)
            name = v->name;
        else
            n_vfses--;
    }
    pthread_mutex_unlock(&mu);
    return name;
}

void walbuf_stats(walbuf_stats_t *out)
{
    out->writes = __atomic_load_n(&st_writes, __ATOMIC_RELAXED);
    out->syscalls = __atomic_load_n(&st_syscalls, __ATOMIC_RELAXED);
    out->late = __atomic_load_n(&st_late, __ATOMIC_RELAXED);
    out->late_failed = __atomic_load_n(&st_late_failed, __ATOMIC_RELAXED);
}
