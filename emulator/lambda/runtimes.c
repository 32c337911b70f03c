/* The runtimes besides exec (lambda/runtimes.h): the embedded bootstraps
 * written to the data folder, and the argv and interpreter of each. */
#include "lambda/runtimes.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"

lambda_rt_family_t lambda_runtime_family(const char *runtime)
{
    if (!runtime || strcmp(runtime, "exec") == 0)
        return LAMBDA_RT_EXEC;
    if (strncmp(runtime, "python", 6) == 0)
        return LAMBDA_RT_PYTHON;
    if (strncmp(runtime, "nodejs", 6) == 0)
        return LAMBDA_RT_NODEJS;
    return LAMBDA_RT_PROVIDED;
}

/* mkdir -p of path's parent folders. */
static int make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* 1 when path holds exactly data. */
static int same_content(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int same = 1;
    unsigned char chunk[8192];
    size_t off = 0, n;
    while (same && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (off + n > len || memcmp(chunk, data + off, n) != 0)
            same = 0;
        off += n;
    }
    fclose(f);
    return same && off == len;
}

/* Writes through a temporary file and a rename, so an instance starting
 * at the same time never reads half a bootstrap. */
static int write_file(const char *path, const unsigned char *data, size_t len)
{
    buf_t tmp;
    buf_init(&tmp);
    buf_printf(&tmp, "%s.tmp%ld", path, (long)getpid());
    int rc = -1;
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, data + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (close(fd) == 0 && off == len && rename(tmp.data, path) == 0)
            rc = 0;
        else
            unlink(tmp.data);
    }
    buf_free(&tmp);
    return rc;
}

char *lambda_runtimes_install(const char *data_dir)
{
    /* Absolute: instances run in their code folder. */
    buf_t dir;
    buf_init(&dir);
    char cwd[PATH_MAX];
    if (data_dir[0] != '/' && getcwd(cwd, sizeof cwd))
        buf_printf(&dir, "%s/", cwd);
    buf_printf(&dir, "%s/runtimes", data_dir);
    for (const lambda_embedded_t *e = lambda_embedded_files; e->path; e++) {
        buf_t p;
        buf_init(&p);
        buf_printf(&p, "%s/%s", dir.data, e->path);
        int rc = 0;
        if (!same_content(p.data, e->data, e->len))
            rc = make_parents(p.data) < 0 ? -1 : write_file(p.data, e->data, e->len);
        if (rc < 0) {
            log_error("msg=\"cannot write a runtime bootstrap\" path=%s error=\"%s\"", p.data, strerror(errno));
            buf_free(&p);
            buf_free(&dir);
            return NULL;
        }
        buf_free(&p);
    }
    return buf_steal(&dir, NULL);
}

static char *join(const char *a, const char *b)
{
    buf_t p;
    buf_init(&p);
    buf_printf(&p, "%s/%s", a, b);
    return buf_steal(&p, NULL);
}

/* name resolved as posix_spawnp will: as written when it has a '/', else
 * the first executable match on PATH. */
static int find_program(const char *name, char *out, size_t size)
{
    if (strchr(name, '/')) {
        snprintf(out, size, "%s", name);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, size, "%.*s/%s", (int)n, path, name);
        if (n && access(out, X_OK) == 0)
            return 0;
        path += n;
        if (*path == ':')
            path++;
    }
    return -1;
}

/* The interpreter of a managed runtime, as runtimes: sets it (default
 * python3 and node on PATH). The runtime's version is not chosen by name:
 * a python3.12 on PATH may be a shim for a version not installed. */
static const char *interpreter(const config_t *cfg, const char *runtime)
{
    return lambda_runtime_family(runtime) == LAMBDA_RT_NODEJS ? cfg->nodejs : cfg->python;
}

char **lambda_runtime_argv(const config_t *cfg, const config_function_t *fn, const char *runtimes_dir)
{
    char **argv = calloc(3, sizeof *argv);
    switch (lambda_runtime_family(fn->runtime)) {
    case LAMBDA_RT_PYTHON:
        argv[0] = strdup(interpreter(cfg, fn->runtime));
        argv[1] = join(runtimes_dir, "python/bootstrap.py");
        break;
    case LAMBDA_RT_NODEJS:
        argv[0] = strdup(cfg->nodejs);
        argv[1] = join(runtimes_dir, "nodejs/bootstrap.mjs");
        break;
    case LAMBDA_RT_PROVIDED:
        argv[0] = join(fn->code, "bootstrap");
        break;
    case LAMBDA_RT_EXEC:
        free(argv);
        return NULL;
    }
    return argv;
}

int lambda_runtime_interpreter(const config_t *cfg, const char *runtime, char *path, size_t path_size,
                               char *version, size_t version_size, char *why, size_t why_size)
{
    lambda_rt_family_t fam = lambda_runtime_family(runtime);
    path[0] = why[0] = '\0';
    if (version_size)
        version[0] = '\0';
    if (fam != LAMBDA_RT_PYTHON && fam != LAMBDA_RT_NODEJS)
        return 0;
    const char *name = interpreter(cfg, runtime);
    if (find_program(name, path, path_size) < 0) {
        snprintf(why, why_size, "runtime %s: interpreter '%s' %s; install it or set runtimes: %s: /path/to/it",
                 runtime, name, strchr(name, '/') ? "is not an executable file" : "is not on PATH",
                 fam == LAMBDA_RT_PYTHON ? "python" : "nodejs");
        return -1;
    }
    if (!version_size)
        return 0;
    /* Its version, from `<interpreter> --version` (Python 3.x prints it on
     * stdout; older ones on stderr, hence 2>&1). */
    buf_t cmd;
    buf_init(&cmd);
    buf_printf(&cmd, "'%s' --version 2>&1", path);
    FILE *p = strchr(path, '\'') ? NULL : popen(cmd.data, "r");
    buf_free(&cmd);
    if (p) {
        if (fgets(version, (int)version_size, p))
            version[strcspn(version, "\r\n")] = '\0';
        pclose(p);
    }
    return 0;
}
