/* Identifiers: UUIDv4 strings for message and request ids, and random
 * bytes for receipt-handle nonces. Seeded once from the kernel. */
#ifndef SLUICE_IDS_H
#define SLUICE_IDS_H

#include <stddef.h>
#include <stdint.h>

#define IDS_UUID_LEN 36

/* Writes a lowercase UUIDv4 and a NUL into out[37]. */
void ids_uuid4(char out[IDS_UUID_LEN + 1]);
uint64_t ids_random64(void);
/* Writes 2*n lowercase hex digits and a NUL. */
void ids_hex(const unsigned char *in, size_t n, char *out);

#endif
