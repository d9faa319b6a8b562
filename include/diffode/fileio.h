/* fileio.h - writing a whole file atomically, the one way every output (.npy, .safetensors,
 * .png, CSV tables, configs) reaches the disk; and opening an input file only when it is a
 * regular file of bounded size, the one way every reader starts.
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

/* Opens path for reading, refusing before any byte is read what a reader must not read
 * without end or block on: anything but a regular file (a FIFO, /dev/zero, a directory, a
 * socket; the open itself never blocks, O_NONBLOCK, cleared once the type is known), and a
 * file larger than max_bytes. On success *fd is open (blocking, the caller closes it) and
 * *size is the file's size. DODE_EIO (cannot open, not a regular file) or DODE_EFORMAT
 * (above max_bytes), the message starting "cannot read PATH: "; *fd untouched on failure. */
int dode_file_open(const char *path, size_t max_bytes, int *fd, size_t *size,
                   char *err, size_t errlen);

/* The whole of a regular file of at most max_bytes bytes (checked by dode_file_open before
 * anything is allocated), read into a malloc'ed buffer with a NUL after the last byte
 * (caller frees *bytes); *len excludes the NUL. A file that grows while it is read is cut
 * at max_bytes + 1 and refused. Errors as dode_file_open, plus DODE_ENOMEM; outputs
 * untouched on failure. */
int dode_file_read(const char *path, size_t max_bytes, char **bytes, size_t *len,
                   char *err, size_t errlen);

#endif
