/* Leveled key=value logging to stderr. Quiet at the default level (info
 * prints start-up and errors only); debug shows every request. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Parses "debug|info|warn|error"; returns 0, or -1 on an unknown name. */
int log_parse_level(const char *name, log_level_t *out);
void log_set_level(log_level_t level);
log_level_t log_get_level(void);

/* printf-style; a newline is added. */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_get_level() <= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
