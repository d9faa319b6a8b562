/* fileio.c - the atomic file write every output of the library and the command uses
 * (fileio.h): the bytes go to a temporary file beside the target, are synced, and the
 * temporary is renamed over the target.
 *
 * Invariant: a failure at any step leaves the target as it was (absent or the old
 * contents) and removes the temporary; rename(2) within one directory is atomic. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
