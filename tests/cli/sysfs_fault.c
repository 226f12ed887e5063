// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sysfs-fault: an LD_PRELOAD shim for the CLI tests that makes a fake
 * /sys tree answer as the kernel's AP bus does where a plain file cannot.
 *
 *   APMATRIX_FAULT_WRITE=NAME:ERRNO
 *       write() to a file whose path ends in "/bus/ap/NAME" fails with
 *       ERRNO (EBUSY: the AP bus's veto when a queue to be given back to
 *       the host is in use by a guest; EINVAL: a mask the bus refuses).
 *       Opening that file ignores O_TRUNC, as sysfs does, so a refused
 *       write leaves the old text.
 *   APMATRIX_FAULT_ON_LOCK=PATH:TEXT
 *       the first flock() (the AP configuration lock) first writes TEXT
 *       and a newline to PATH: another program changed a mask between
 *       the plan and the lock.
 *
 * Only the library's plain open/write/flock calls are affected.
 */
/* define open and open64 both, not one redirected onto the other */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*flock_fn)(int, int);

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EBUSY", EBUSY }, { "EINVAL", EINVAL }, { "EIO", EIO },
	{ "EACCES", EACCES }, { "ENODEV", ENODEV }, { "EAGAIN", EAGAIN },
};

static void *real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		fprintf(stderr, "sysfs-fault: no real %s\n", name);
		_exit(98);
	}
	return p;
}

/* Does fd's path end in "/bus/ap/" + name (name of the given length)? */
static int fd_is(int fd, const char *name, size_t len)
{
	char path[64], target[4096];
	const char *suffix = "/bus/ap/";
	size_t sl = strlen(suffix);
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0 || (size_t)n < sl + len)
		return 0;
	target[n] = '\0';
	return !memcmp(target + n - len - sl, suffix, sl) &&
	       !memcmp(target + n - len, name, len);
}

/* Is path the file APMATRIX_FAULT_WRITE names? */
static int path_is_fault(const char *path)
{
	const char *spec = getenv("APMATRIX_FAULT_WRITE");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	const char *suffix = "/bus/ap/";
	size_t len, sl = strlen(suffix), pl = strlen(path);

	if (!colon)
		return 0;
	len = (size_t)(colon - spec);
	return pl >= sl + len && !memcmp(path + pl - len - sl, suffix, sl) &&
	       !memcmp(path + pl - len, spec, len);
}

static int open_common(const char *sym, const char *path, int flags,
		       mode_t mode)
{
	open_fn fn = (open_fn)real(sym);

	if (path_is_fault(path))
		flags &= ~O_TRUNC;
	return fn(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open_common("open", path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open_common("open64", path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	static write_fn real_write;
	const char *spec = getenv("APMATRIX_FAULT_WRITE");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	size_t i;

	if (!real_write)
		real_write = (write_fn)real("write");
	if (colon && fd_is(fd, spec, (size_t)(colon - spec))) {
		for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
			if (!strcmp(colon + 1, errnos[i].name)) {
				errno = errnos[i].err;
				return -1;
			}
		fprintf(stderr, "sysfs-fault: unknown errno '%s'\n", colon + 1);
		_exit(98);
	}
	return real_write(fd, buf, count);
}

int flock(int fd, int op)
{
	static flock_fn real_flock;
	static int done;
	const char *spec = getenv("APMATRIX_FAULT_ON_LOCK");
	const char *colon = spec ? strchr(spec, ':') : NULL;

	if (!real_flock)
		real_flock = (flock_fn)real("flock");
	if (colon && !done) {
		char path[4096];
		FILE *f;

		done = 1;
		snprintf(path, sizeof(path), "%.*s", (int)(colon - spec), spec);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%s\n", colon + 1) < 0 || fclose(f)) {
			fprintf(stderr, "sysfs-fault: cannot write %s\n", path);
			_exit(98);
		}
	}
	return real_flock(fd, op);
}
