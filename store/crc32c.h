/* crc32c.h — CRC-32C (Castagnoli), the checksum on every store log frame. */
#ifndef STORE_CRC32C_H
#define STORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over n more bytes; start with crc = 0. */
uint32_t store_crc32c(uint32_t crc, const void *data, size_t n);
/* The same computed with tables only (what store_crc32c uses when the
 * processor has no crc32 instruction). */
uint32_t store_crc32c_table(uint32_t crc, const void *data, size_t n);

#endif
