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
 *       the first link() (taking the AP configuration lock) first writes
 *       TEXT and a newline to PATH: another program changed a mask
 *       between the plan and the lock.
 *   APMATRIX_FAULT_PROBE_LOCK=LOCK:OUT
 *       at the first successful write() to a mask, play s390-tools
 *       (libutil/util_lockfile.c) trying to take LOCK: write "PID\n" to a
 *       temporary file, link() it to LOCK; record in OUT the lock file's
 *       text and link()'s outcome ("EEXIST" while apmatrix holds it).
 *   APMATRIX_FAULT_LOCK_RACE=PID
 *       when the library is about to remove or replace a stale lock at
 *       $APMATRIX_LOCK_FILE (unlink() of it, or renameat2() onto it),
 *       another taker gets there first: the stale file is replaced by a
 *       fresh lock holding PID. Once.
 *   APMATRIX_FAULT_CLOEXEC=1
 *       fdopendir() of an fd without FD_CLOEXEC ends the process (exit 97,
 *       a line on stderr): an fd another thread's fork+exec would leak.
 *   APMATRIX_FAULT_SIGNAL=NAME:SIGNAL
 *       after a successful write() to "/bus/ap/NAME", raise SIGNAL (TERM,
 *       HUP, INT, KILL): an ssh session ending, a kill, between the two masks.
 *   APMATRIX_FAULT_CALL=chmod:ERRNO or chown:ERRNO
 *       chmod() or chown() (of /dev/apmatrix by apply) fails with ERRNO.
 *
 * Only the library's plain open/write/link calls are affected.
 */
/* define open and open64 both, not one redirected onto the other */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*link_fn)(const char *, const char *);

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EBUSY", EBUSY }, { "EINVAL", EINVAL }, { "EIO", EIO },
	{ "EACCES", EACCES }, { "ENODEV", ENODEV }, { "EAGAIN", EAGAIN },
	{ "EPERM", EPERM }, { "EROFS", EROFS },
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

static void probe_lock(void)
{
	const char *spec = getenv("APMATRIX_FAULT_PROBE_LOCK");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	link_fn real_link = (link_fn)real("link");
	write_fn real_write = (write_fn)real("write");
	char lock[4096], tmp[4200], text[64] = "", pidtext[24];
	static int done;
	const char *how = "OK";
	ssize_t n;
	FILE *f;
	int fd, len;

	if (!colon || done)
		return;
	done = 1;
	snprintf(lock, sizeof(lock), "%.*s", (int)(colon - spec), spec);
	fd = open(lock, O_RDONLY | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		text[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	/* s390-tools' take: a temporary PID file, link()ed to the lock */
	snprintf(tmp, sizeof(tmp), "%s%05d%02x", lock, 99999,
		 (unsigned int)time(NULL) & 255);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	len = snprintf(pidtext, sizeof(pidtext), "%d\n", 1);
	if (fd < 0 || real_write(fd, pidtext, len) != len || close(fd)) {
		how = "TMPFAIL";
	} else if (real_link(tmp, lock)) {
		how = errno == EEXIST ? "EEXIST" : "OTHER";
	} else {
		unlink(lock);	/* it was free: give it back */
	}
	unlink(tmp);
	f = fopen(colon + 1, "w");
	if (!f || fprintf(f, "%s%s\n", text, how) < 0 || fclose(f)) {
		fprintf(stderr, "sysfs-fault: cannot write %s\n", colon + 1);
		_exit(98);
	}
}

static void maybe_signal(int fd)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = { { "TERM", SIGTERM }, { "HUP", SIGHUP }, { "INT", SIGINT },
		     { "KILL", SIGKILL } };
	const char *spec = getenv("APMATRIX_FAULT_SIGNAL");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	size_t i;

	if (!colon || !fd_is(fd, spec, (size_t)(colon - spec)))
		return;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(colon + 1, sigs[i].name)) {
			raise(sigs[i].sig);
			return;
		}
	fprintf(stderr, "sysfs-fault: unknown signal '%s'\n", colon + 1);
	_exit(98);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	static write_fn real_write;
	const char *spec = getenv("APMATRIX_FAULT_WRITE");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	ssize_t n;
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
	n = real_write(fd, buf, count);
	if (n > 0 && fd_is(fd, "apmask", 6)) {
		probe_lock();
		maybe_signal(fd);
	} else if (n > 0 && fd_is(fd, "aqmask", 6)) {
		probe_lock();
		maybe_signal(fd);
	}
	return n;
}

int link(const char *from, const char *to)
{
	static link_fn real_link;
	static int done;
	const char *spec = getenv("APMATRIX_FAULT_ON_LOCK");
	const char *colon = spec ? strchr(spec, ':') : NULL;

	if (!real_link)
		real_link = (link_fn)real("link");
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
	return real_link(from, to);
}

/* APMATRIX_FAULT_LOCK_RACE: another taker replaces the stale lock at name */
static void lock_race(const char *name)
{
	const char *pid = getenv("APMATRIX_FAULT_LOCK_RACE");
	const char *lock = getenv("APMATRIX_LOCK_FILE");
	char tmp[4200];
	static int done;
	FILE *f;

	if (!pid || !lock || done || strcmp(name, lock))
		return;
	done = 1;
	snprintf(tmp, sizeof(tmp), "%s.race", lock);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%s\n", pid) < 0 || fclose(f) || rename(tmp, lock)) {
		fprintf(stderr, "sysfs-fault: cannot replace %s\n", lock);
		_exit(98);
	}
}

int unlink(const char *name)
{
	static int (*real_unlink)(const char *);

	if (!real_unlink)
		real_unlink = (int (*)(const char *))real("unlink");
	lock_race(name);
	return real_unlink(name);
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned int flags)
{
	static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);

	if (!real_renameat2)
		real_renameat2 = (int (*)(int, const char *, int, const char *, unsigned int))
				 real("renameat2");
	lock_race(to);
	return real_renameat2(ofd, from, nfd, to, flags);
}

/* APMATRIX_FAULT_CALL=NAME:ERRNO: should call NAME fail? 0 or the errno */
static int call_fault(const char *name)
{
	const char *spec = getenv("APMATRIX_FAULT_CALL");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	size_t i;

	if (!colon || (size_t)(colon - spec) != strlen(name) ||
	    memcmp(spec, name, strlen(name)))
		return 0;
	for (i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (!strcmp(colon + 1, errnos[i].name))
			return errnos[i].err;
	fprintf(stderr, "sysfs-fault: unknown errno '%s'\n", colon + 1);
	_exit(98);
}

int chmod(const char *path, mode_t mode)
{
	int (*fn)(const char *, mode_t) = (int (*)(const char *, mode_t))real("chmod");
	int err = call_fault("chmod");

	if (err) {
		errno = err;
		return -1;
	}
	return fn(path, mode);
}

int chown(const char *path, uid_t uid, gid_t gid)
{
	int (*fn)(const char *, uid_t, gid_t) =
		(int (*)(const char *, uid_t, gid_t))real("chown");
	int err = call_fault("chown");

	if (err) {
		errno = err;
		return -1;
	}
	return fn(path, uid, gid);
}

DIR *fdopendir(int fd)
{
	DIR *(*fn)(int) = (DIR *(*)(int))real("fdopendir");
	int flags = fcntl(fd, F_GETFD);

	if (getenv("APMATRIX_FAULT_CLOEXEC") && flags >= 0 && !(flags & FD_CLOEXEC)) {
		fprintf(stderr, "sysfs-fault: fdopendir(%d): no FD_CLOEXEC\n", fd);
		_exit(97);
	}
	return fn(fd);
}
