/* fileio.c - the atomic file write every output of the library and the command uses
 * (fileio.h): the bytes go to a temporary file beside the target, are synced, and the
 * temporary is renamed over the target.
 *
 * Invariant: a failure at any step leaves the target as it was (absent or the old
 * contents) and removes the temporary; rename(2) within one directory is atomic.
 *
 * Reading: every input goes through dode_file_open, which takes only regular files of a
 * bounded size (issue 18: /dev/zero was read until memory ran out, a FIFO blocked). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diffode/fileio.h"
#include "diffode/status.h"

/* write(2) until done, across partial writes and signals. */
static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        const ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The temp file's mode: the target's if it exists, else 0644 (mkstemp makes 0600). */
static mode_t target_mode(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
}

/* Fills the open temp file fd and closes it; returns the failed step's name or NULL
 * (*errnum = its errno). */
static const char *fill_temp(int fd, const char *path, const void *bytes, size_t len,
                             int *errnum)
{
    const char *step = NULL;
    if (fchmod(fd, target_mode(path)) != 0)
        step = "chmod";
    else if (write_all(fd, bytes, len) != 0)
        step = "write";
    else if (fsync(fd) != 0)        /* data on disk before the rename makes them visible */
        step = "fsync";
    *errnum = step != NULL ? errno : 0;
    if (close(fd) != 0 && step == NULL) {
        step = "close";
        *errnum = errno;
    }
    return step;
}

int dode_write_atomic(const char *path, const void *bytes, size_t len,
                      char *err, size_t errlen)
{
    static const char suffix[] = ".tmp.XXXXXX";
    if (path == NULL || (bytes == NULL && len > 0))
        return dode_fail(err, errlen, DODE_EINVAL, "atomic write: NULL argument");
    const size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    if (tmp == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot write %s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    int rc = DODE_OK, errnum = 0;
    const int fd = mkstemp(tmp);       /* same directory, so rename() cannot cross devices */
    if (fd < 0) {
        rc = dode_fail(err, errlen, DODE_EIO, "cannot write %s: cannot create a temporary "
                       "file beside it: %s", path, strerror(errno));
    } else {
        const char *step = fill_temp(fd, path, bytes, len, &errnum);
        if (step == NULL && rename(tmp, path) != 0) {
            step = "rename";
            errnum = errno;
        }
        if (step != NULL) {
            rc = dode_fail(err, errlen, DODE_EIO, "cannot write %s: %s of %s failed: %s", path,
                           step, tmp, strerror(errnum));
            unlink(tmp);
        }
    }
    free(tmp);
    return rc;
}

/* What a non-regular file is, for the message. */
static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO (named pipe)"
         : S_ISCHR(mode) ? "a character device" : S_ISBLK(mode) ? "a block device"
         : S_ISSOCK(mode) ? "a socket" : "not a regular file";
}

int dode_file_open(const char *path, size_t max_bytes, int *fd, size_t *size,
                   char *err, size_t errlen)
{
    if (path == NULL || fd == NULL || size == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "file open: NULL argument");
    /* O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever */
    const int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return dode_fail(err, errlen, DODE_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = DODE_OK;
    if (fstat(f, &st) != 0)
        rc = dode_fail(err, errlen, DODE_EIO, "cannot read %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = dode_fail(err, errlen, DODE_EIO, "cannot read %s: it is %s; only regular "
                       "files are read", path, file_kind(st.st_mode));
    else if ((unsigned long long)st.st_size > max_bytes)
        rc = dode_fail(err, errlen, DODE_EFORMAT, "cannot read %s: %lld bytes, above the "
                       "limit of %zu bytes for this kind of file", path,
                       (long long)st.st_size, max_bytes);
    else if (fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK) != 0)
        rc = dode_fail(err, errlen, DODE_EIO, "cannot read %s: %s", path, strerror(errno));
    if (rc != DODE_OK) {
        close(f);
        return rc;
    }
    *fd = f;
    *size = (size_t)st.st_size;
    return DODE_OK;
}

/* read(2) into buf until len bytes or end of file, across signals; -1 on error. */
static long long read_upto(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        const ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

int dode_file_read(const char *path, size_t max_bytes, char **bytes, size_t *len,
                   char *err, size_t errlen)
{
    if (bytes == NULL || len == NULL || max_bytes >= SIZE_MAX - 2)
        return dode_fail(err, errlen, DODE_EINVAL, "file read: NULL argument or no limit");
    int fd = -1;
    size_t size = 0;
    int rc = dode_file_open(path, max_bytes, &fd, &size, err, errlen);
    if (rc != DODE_OK)
        return rc;
    /* one byte beyond the size, so a file that grew since fstat is noticed */
    char *buf = malloc(size + 2);
    const long long got = buf != NULL ? read_upto(fd, buf, size + 1) : 0;
    if (buf == NULL)
        rc = dode_fail(err, errlen, DODE_ENOMEM, "cannot read %s: out of memory for its %zu "
                       "bytes", path, size);
    else if (got < 0)
        rc = dode_fail(err, errlen, DODE_EIO, "cannot read %s: %s", path, strerror(errno));
    else if ((size_t)got > size)
        rc = dode_fail(err, errlen, DODE_EIO, "cannot read %s: it grew while being read",
                       path);
    close(fd);
    if (rc != DODE_OK) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    *bytes = buf;
    *len = (size_t)got;
    return DODE_OK;
}
