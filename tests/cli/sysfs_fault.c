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
 *       chmod() or chown() (of /dev/apmatrix by apply) fails with ERRNO;
 *       chmod+N:ERRNO: the first N calls succeed, the later ones fail (an
 *       undo that cannot put the node back). Several, comma-separated:
 *       APMATRIX_FAULT_CALL=chown+1:EPERM,chmod:EPERM.
 *
 * Only the library's plain open/write/link calls are affected.
 */
/* define open and open64 both, not one redirected onto the other */
#undef _FILE_OFFSET_BITS
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "interpose.h"

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*link_fn)(const char *, const char *);

#define real(type, name) INTERPOSE_NEXT("sysfs-fault", type, name)

/* APMATRIX_FAULT_<var>=KEY:VALUE: VALUE, and KEY's length in *keylen */
static const char *spec_value(const char *var, const char **key, size_t *keylen)
{
	const char *spec = getenv(var);
	const char *colon = spec ? strchr(spec, ':') : NULL;

	if (!colon)
		return NULL;
	*key = spec;
	*keylen = (size_t)(colon - spec);
	return colon + 1;
}

/* an errno name of a fault spec: its number, or the shim ends (exit 98) */
static int spec_errno(const char *name)
{
	int err = interpose_errno(name);

	if (!err) {
		fprintf(stderr, "sysfs-fault: unknown errno '%s'\n", name);
		_exit(98);
	}
	return err;
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
	const char *suffix = "/bus/ap/", *name;
	size_t len, sl = strlen(suffix), pl = strlen(path);

	if (!spec_value("APMATRIX_FAULT_WRITE", &name, &len))
		return 0;
	return pl >= sl + len && !memcmp(path + pl - len - sl, suffix, sl) &&
	       !memcmp(path + pl - len, name, len);
}

static int open_fault(open_fn fn, const char *path, int flags, mode_t mode)
{
	if (path_is_fault(path))
		flags &= ~O_TRUNC;
	return fn(path, flags, mode);
}

INTERPOSE_OPEN(open, open_fault(real(open_fn, "open"), path, flags, mode))
INTERPOSE_OPEN(open64, open_fault(real(open_fn, "open64"), path, flags, mode))

static void probe_lock(void)
{
	const char *lockname, *out;
	link_fn real_link = real(link_fn, "link");
	write_fn real_write = real(write_fn, "write");
	char lock[4096], tmp[4200], text[64] = "", pidtext[24];
	static int done;
	const char *how = "OK";
	size_t locklen;
	ssize_t n;
	FILE *f;
	int fd, len;

	out = spec_value("APMATRIX_FAULT_PROBE_LOCK", &lockname, &locklen);
	if (!out || done)
		return;
	done = 1;
	snprintf(lock, sizeof(lock), "%.*s", (int)locklen, lockname);
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
	f = fopen(out, "w");
	if (!f || fprintf(f, "%s%s\n", text, how) < 0 || fclose(f)) {
		fprintf(stderr, "sysfs-fault: cannot write %s\n", out);
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
	const char *name, *sig;
	size_t i, len;

	sig = spec_value("APMATRIX_FAULT_SIGNAL", &name, &len);
	if (!sig || !fd_is(fd, name, len))
		return;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(sig, sigs[i].name)) {
			raise(sigs[i].sig);
			return;
		}
	fprintf(stderr, "sysfs-fault: unknown signal '%s'\n", sig);
	_exit(98);
}

INTERPOSE_EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	const char *name, *err;
	size_t len;
	ssize_t n;

	err = spec_value("APMATRIX_FAULT_WRITE", &name, &len);
	if (err && fd_is(fd, name, len)) {
		errno = spec_errno(err);
		return -1;
	}
	n = real(write_fn, "write")(fd, buf, count);
	if (n > 0 && (fd_is(fd, "apmask", 6) || fd_is(fd, "aqmask", 6))) {
		probe_lock();
		maybe_signal(fd);
	}
	return n;
}

INTERPOSE_EXPORT int link(const char *from, const char *to)
{
	static int done;
	const char *name, *text;
	size_t len;

	text = spec_value("APMATRIX_FAULT_ON_LOCK", &name, &len);
	if (text && !done) {
		char path[4096];
		FILE *f;

		done = 1;
		snprintf(path, sizeof(path), "%.*s", (int)len, name);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f)) {
			fprintf(stderr, "sysfs-fault: cannot write %s\n", path);
			_exit(98);
		}
	}
	return real(link_fn, "link")(from, to);
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

INTERPOSE_EXPORT int unlink(const char *name)
{
	lock_race(name);
	return real(int (*)(const char *), "unlink")(name);
}

INTERPOSE_EXPORT int renameat2(int ofd, const char *from, int nfd, const char *to,
			       unsigned int flags)
{
	lock_race(to);
	return real(int (*)(int, const char *, int, const char *, unsigned int),
		    "renameat2")(ofd, from, nfd, to, flags);
}

/* APMATRIX_FAULT_CALL=NAME:ERRNO: should call NAME fail? 0 or the errno */
static int call_fault(const char *call)
{
	static unsigned int calls[2];	/* chmod, chown */
	unsigned int *n = &calls[!strcmp(call, "chown")];
	const char *spec = getenv("APMATRIX_FAULT_CALL");
	size_t cl = strlen(call);
	char item[64], *colon, *plus;
	bool counted = false;
	int err = 0;

	while (spec && *spec) {
		size_t len = strcspn(spec, ",");

		snprintf(item, sizeof(item), "%.*s", (int)len, spec);
		spec += len + (spec[len] == ',');
		colon = strchr(item, ':');
		if (!colon)
			continue;
		*colon = '\0';
		plus = strchr(item, '+');
		if (plus)
			*plus = '\0';
		if (strlen(item) != cl || memcmp(item, call, cl))
			continue;
		if (!counted) {
			(*n)++;
			counted = true;
		}
		if (plus && *n <= strtoul(plus + 1, NULL, 10))
			continue;
		err = spec_errno(colon + 1);
	}
	return err;
}

INTERPOSE_EXPORT int chmod(const char *path, mode_t mode)
{
	int err = call_fault("chmod");

	if (err) {
		errno = err;
		return -1;
	}
	return real(int (*)(const char *, mode_t), "chmod")(path, mode);
}

INTERPOSE_EXPORT int chown(const char *path, uid_t uid, gid_t gid)
{
	int err = call_fault("chown");

	if (err) {
		errno = err;
		return -1;
	}
	return real(int (*)(const char *, uid_t, gid_t), "chown")(path, uid, gid);
}

INTERPOSE_EXPORT DIR *fdopendir(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (getenv("APMATRIX_FAULT_CLOEXEC") && flags >= 0 && !(flags & FD_CLOEXEC)) {
		fprintf(stderr, "sysfs-fault: fdopendir(%d): no FD_CLOEXEC\n", fd);
		_exit(97);
	}
	return real(DIR *(*)(int), "fdopendir")(fd);
}
