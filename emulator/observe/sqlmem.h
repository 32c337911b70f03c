/* SQLite's memory allocator: the system one, with a small per-thread cache
 * of freed blocks in a few size classes in front of it.
 *
 * The system's SQLite is built without lookaside memory
 * (SQLITE_OMIT_LOOKASIDE), so every cursor and record buffer of every
 * statement is a malloc and a free: eight of each per SendMessage, about
 * 2k instructions of glibc. A block freed here goes to its thread's list
 * for its class (at most SQLMEM_CACHED a class) and the next request of
 * that class takes it back. Any thread may free a block any thread got; a
 * thread's list is returned to the system allocator when it exits. */
#ifndef SLUICE_OBSERVE_SQLMEM_H
#define SLUICE_OBSERVE_SQLMEM_H

#include <sqlite3.h>

#define SQLMEM_CACHED 32 /* blocks kept a size class, a thread */

/* Installs the allocator (SQLITE_CONFIG_MALLOC): call before SQLite is
 * first used. Returns 0, or -1 when SQLite refused (it is then left as
 * it was). The sanitizer build installs nothing, so that a use of a freed
 * SQLite block is still caught. */
int sqlmem_install(void);

/* The methods, for tests: wrapped around the current allocator on the
 * first call. */
const sqlite3_mem_methods *sqlmem_methods(void);

#endif
