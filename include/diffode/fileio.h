/* fileio.h - writing a whole file atomically, the one way every output (.npy, .safetensors,
 * .png, CSV tables, configs) reaches the disk.
 *
 * The data go to PATH.tmp.XXXXXX in the same directory, are synced, and that file is
 * renamed to PATH only when complete, so a reader sees the old file or the new one, never a
 * half-written one. */
#ifndef DIFFODE_FILEIO_H
#define DIFFODE_FILEIO_H

#include <stddef.h>

/* Writes len bytes (bytes may be NULL when len == 0) to path atomically; an existing
 * file's permission bits are kept, a new file gets 0644. DODE_EINVAL for a NULL argument,
 * DODE_ENOMEM, or DODE_EIO naming the path, the failed step (create, chmod, write, fsync,
 * close, rename) and the system's reason; on failure path is unchanged and the temporary
 * file is removed. */
int dode_write_atomic(const char *path, const void *bytes, size_t len,
                      char *err, size_t errlen);

#endif
