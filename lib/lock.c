// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: the AP configuration lock, as s390-tools takes it.
 *
 * s390-tools (libutil/util_lockfile.c, used by chzdev -t ap and ap-check)
 * guards /run/lock/s390apconfig.lock with a PID file made by link():
 *  - take: write "PID\n" into a new temporary file beside the lock file,
 *    then link() it to the lock file's name; link() fails with EEXIST while
 *    someone holds the lock. The temporary name is removed either way.
 *  - held by someone: read the PID in the file. A PID with no process
 *    (kill(pid, 0) says ESRCH) is a stale lock: remove it and try again at
 *    once. A file with no PID yet (empty, or "0") is being made: wait, and
 *    treat it as stale once it is older than two minutes. Otherwise wait
 *    and try again.
 *  - release: remove the file if it still holds our PID.
 * Doing the same here makes apmatrix and s390-tools exclude each other.
 * Unlike s390-tools, the wait is bounded by a time (the context's lock
 * timeout), the caller is told once when it starts waiting, a lock file
 * that is a symbolic link or not a regular file is refused (link() never
 * follows one; reading and removing it would), a stale lock is taken
 * over by swapping ours in atomically and judging what came out (never by
 * an unlink() that can hit a lock someone else just took), and release removes only
 * the file this process linked (same inode), not one a stale-lock cleaner
 * of another tool put there since. Run as root, a lock file another user
 * owns is stale whatever PID it names: the directory is world-writable.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* s390-tools: a lock file still without a PID after this long is stale */
#define LOCK_NO_PID_STALE_S	120

enum { LOCK_GONE, LOCK_HELD, LOCK_STALE };

/*
 * What the lock file at path says: LOCK_HELD (*pid, or 0 while being
 * made), LOCK_STALE (*st is the stale file), LOCK_GONE (replaced or gone
 * meanwhile: look again), or -errno (message).
 */
static int lock_state(struct apmatrix_ctx *ctx, const char *path, pid_t *pid,
		      uid_t *owner, struct stat *st)
{
	char buf[48], e[160];
	ssize_t n;
	long v;
	int fd;

	*pid = 0;
	*owner = (uid_t)-1;
	if (lstat(path, st)) {
		if (errno == ENOENT)
			return LOCK_GONE;
		return apm_fail(ctx, errno, "lock file %s: %s", path,
				apm_strerror(errno, e, sizeof(e)));
	}
	if (geteuid() == 0 && st->st_uid != 0 && !S_ISDIR(st->st_mode))
		return LOCK_STALE;	/* see below: not root's, whatever it is */
	if (S_ISLNK(st->st_mode))
		return apm_fail(ctx, ELOOP,
				"lock file %s is a symbolic link: not following it (remove it if no one should have put it there)",
				path);
	if (!S_ISREG(st->st_mode))
		return apm_fail(ctx, EINVAL, "lock file %s is not a regular file", path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return LOCK_GONE;
		return apm_fail(ctx, errno, "reading lock file %s: %s", path,
				apm_strerror(errno, e, sizeof(e)));
	}
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return LOCK_GONE;	/* replaced meanwhile: look again */
	}
	*owner = st->st_uid;
	if (geteuid() == 0 && st->st_uid != 0) {
		/*
		 * The lock directory (/run/lock) is writable by every user:
		 * a file there that root did not make guards nothing (only
		 * root writes apmask/aqmask), and honouring it would let any
		 * local user hold root's reserve off for ever with the PID
		 * of a sleeping process. Root removes it as a stale lock.
		 */
		close(fd);
		return LOCK_STALE;
	}
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return apm_fail(ctx, errno, "reading lock file %s: %s", path,
				apm_strerror(errno, e, sizeof(e)));
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);	/* as atoi(): digits up to the first non-digit */
	if (v > 0 && v <= INT32_MAX) {
		*pid = (pid_t)v;
		if (kill(*pid, 0) == 0 || errno != ESRCH)
			return LOCK_HELD;	/* alive, or not ours to signal: alive */
	} else if (time(NULL) <= st->st_mtime + LOCK_NO_PID_STALE_S) {
		return LOCK_HELD;	/* no PID yet: being made */
	}
	return LOCK_STALE;
}

/* The temporary PID file beside the lock file: its fd, -errno on failure. */
static int make_pid_file(struct apmatrix_ctx *ctx, const char *path,
			 char **tmp, struct stat *st)
{
	char e[160], text[24];
	ssize_t n;
	int fd, len, err = 0;

	if (asprintf(tmp, "%s.XXXXXX", path) < 0) {
		*tmp = NULL;
		return apm_fail(ctx, ENOMEM, "out of memory");
	}
	fd = mkostemp(*tmp, O_CLOEXEC);	/* O_EXCL: never follows a symlink */
	if (fd < 0) {
		err = errno;
		free(*tmp);
		*tmp = NULL;
		return apm_fail(ctx, err,
				"taking lock file %s: cannot create a file in its directory: %s",
				path, apm_strerror(err, e, sizeof(e)));
	}
	len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	do {
		n = write(fd, text, len);
	} while (n < 0 && errno == EINTR);
	if (n != len)
		err = n < 0 ? errno : EIO;
	if (!err && fchmod(fd, 0644))	/* readable: s390-tools reads the PID */
		err = errno;
	if (!err && fstat(fd, st))
		err = errno;
	close(fd);
	if (err) {
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		return apm_fail(ctx, err, "writing lock file %s: %s", path,
				apm_strerror(err, e, sizeof(e)));
	}
	return 0;
}

/* remove and forget our PID file (it names ours, not a lock) */
static void drop_tmp(struct apm_lock *l)
{
	if (l->tmp)
		unlink(l->tmp);
	free(l->tmp);
	l->tmp = NULL;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Block every catchable signal that would end or stop the process, so
 * that what is done under the lock (both masks, or the rollback) is done
 * whole; the synchronous ones (SIGSEGV...) stay, they are bugs.
 */
void apm_block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGSYS);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

void apm_restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * Take over a stale lock. Removing it by name and link()ing ours is a
 * race: another taker may remove it and link theirs between our look
 * and our unlink(), and we would remove their live lock and take it too.
 * Instead, swap our PID file with whatever is at the lock's name
 * (RENAME_EXCHANGE, atomic): the name always holds a lock, and what we
 * swapped out is now ours alone to judge. Stale (or gone): the lock is
 * ours, it is removed. Someone's live lock: swapped back at once (ours,
 * with our live PID, stood in for it meanwhile; no one took it over).
 * Our PID file is made here, signals blocked, and gone again before
 * they are let through. 1 taken (signals blocked), 0 look again,
 * -errno (message).
 */
static int take_over(struct apmatrix_ctx *ctx, struct apm_lock *l,
		     const char *path, pid_t pid, const struct stat *stale)
{
	struct stat now_st;
	char e[160];
	pid_t other;
	uid_t owner;
	int err, rc;

	apm_block_signals(&l->oldmask);
	rc = make_pid_file(ctx, path, &l->tmp, &l->st);
	if (rc) {
		apm_restore_signals(&l->oldmask);
		return rc;
	}
	if (renameat2(AT_FDCWD, l->tmp, AT_FDCWD, path, RENAME_EXCHANGE)) {
		err = errno;
		drop_tmp(l);
		apm_restore_signals(&l->oldmask);
		if (err == ENOENT)
			return 0;	/* gone: link() again */
		errno = err;
		if (err != EINVAL && err != ENOSYS && err != EOPNOTSUPP)
			goto cannot_remove;
		/* no RENAME_EXCHANGE here: as s390-tools, remove it by name */
		if (!lstat(path, &now_st) && now_st.st_ino == stale->st_ino &&
		    now_st.st_dev == stale->st_dev && unlink(path) && errno != ENOENT)
			goto cannot_remove;
		return 0;
	}
	/* the lock is ours; l->tmp names what was there */
	rc = lock_state(ctx, l->tmp, &other, &owner, &now_st);
	if (rc == LOCK_STALE || rc == LOCK_GONE) {
		unlink(l->tmp);	/* the stale one, swapped out */
		free(l->tmp);
		l->tmp = NULL;
		l->held = true;
		return 1;
	}
	/* someone's live lock (or one we cannot judge): give it back */
	if (renameat2(AT_FDCWD, l->tmp, AT_FDCWD, path, RENAME_EXCHANGE)) {
		err = errno;
		apm_restore_signals(&l->oldmask);
		free(l->tmp);	/* names their lock now: never unlink it */
		l->tmp = NULL;
		return apm_fail(ctx, err,
				"lock file %s: putting back the lock of process %d failed: %s (it is at %s.*)",
				path, (int)other, apm_strerror(err, e, sizeof(e)), path);
	}
	drop_tmp(l);	/* ours again, swapped back */
	apm_restore_signals(&l->oldmask);
	apm_clear_error(ctx);
	return 0;

cannot_remove:
	/*
	 * One that cannot be removed (a non-root caller and root's stale
	 * lock in a sticky directory, an immutable file) is an error:
	 * looking again at once would spin for ever, past any timeout.
	 */
	err = errno;
	if (pid)
		return apm_fail(ctx, err,
				"stale lock file %s (process %d is gone) cannot be removed: %s",
				path, (int)pid, apm_strerror(err, e, sizeof(e)));
	return apm_fail(ctx, err, "stale lock file %s cannot be removed: %s",
			path, apm_strerror(err, e, sizeof(e)));
}

int apm_env_refusal(struct apmatrix_ctx *ctx)
{
	if (ctx->lock_env_err[0])
		return apm_fail(ctx, EINVAL, "%s", ctx->lock_env_err);
	if (ctx->settle_env_err[0])
		return apm_fail(ctx, EINVAL, "%s", ctx->settle_env_err);
	return 0;
}

int apm_lock_take(struct apmatrix_ctx *ctx, struct apm_lock *l)
{
	const char *path = ctx->lock_file;
	unsigned long long start = now_ms(), waited;
	unsigned int snooze = 50;
	bool told = false;
	char e[160];
	struct stat stale;
	pid_t holder;
	uid_t owner;
	int rc;

	memset(l, 0, sizeof(*l));
	/* a time nobody asked for is not waited: the caller's change stops here */
	rc = apm_env_refusal(ctx);
	if (rc)
		return rc;
	for (;;) {
		/*
		 * signals blocked from the moment the lock may be ours, and
		 * our PID file exists only while they are: a signal that ends
		 * the process during the wait leaves no file behind
		 */
		apm_block_signals(&l->oldmask);
		rc = make_pid_file(ctx, path, &l->tmp, &l->st);
		if (rc) {
			apm_restore_signals(&l->oldmask);
			return rc;
		}
		if (!link(l->tmp, path)) {
			drop_tmp(l);
			l->held = true;
			return 0;
		}
		rc = errno;
		drop_tmp(l);
		apm_restore_signals(&l->oldmask);
		if (rc != EEXIST) {
			rc = apm_fail(ctx, rc, "taking lock file %s: %s", path,
				      apm_strerror(rc, e, sizeof(e)));
			break;
		}
		rc = lock_state(ctx, path, &holder, &owner, &stale);
		if (rc < 0)
			break;
		if (rc == LOCK_STALE) {
			rc = take_over(ctx, l, path, holder, &stale);
			if (rc < 0)
				break;
			if (rc)
				return 0;
		}
		if (rc != LOCK_HELD)
			continue;	/* gone: try again now */
		waited = now_ms() - start;
		if (waited >= ctx->lock_timeout_ms) {
			if (holder)
				rc = apm_fail(ctx, ETIMEDOUT,
					      "the AP configuration lock %s is held by process %d (file owner uid %u), still after %u.%u s: nothing written",
					      path, (int)holder, (unsigned int)owner,
					      ctx->lock_timeout_ms / 1000,
					      ctx->lock_timeout_ms % 1000 / 100);
			else
				rc = apm_fail(ctx, ETIMEDOUT,
					      "the AP configuration lock %s is being taken by someone (no PID in it yet), still after %u.%u s: nothing written",
					      path, ctx->lock_timeout_ms / 1000,
					      ctx->lock_timeout_ms % 1000 / 100);
			break;
		}
		if (!told && ctx->lock_wait_fn) {
			ctx->lock_wait_fn(ctx, path, holder, ctx->lock_timeout_ms,
					  ctx->lock_wait_data);
			told = true;
		}
		if (snooze > ctx->lock_timeout_ms - waited)
			snooze = ctx->lock_timeout_ms - waited;
		sleep_ms(snooze ? snooze : 1);
		snooze = snooze * 2 > 1000 ? 1000 : snooze * 2;
	}
	if (l->tmp)
		unlink(l->tmp);
	free(l->tmp);
	l->tmp = NULL;
	return rc;
}

void apm_lock_release(struct apmatrix_ctx *ctx, struct apm_lock *l)
{
	struct stat st;

	if (!l->held)
		return;
	/* only the file this process linked: same inode */
	if (!lstat(ctx->lock_file, &st) && st.st_ino == l->st.st_ino &&
	    st.st_dev == l->st.st_dev)
		unlink(ctx->lock_file);
	l->held = false;
	apm_restore_signals(&l->oldmask);
}
