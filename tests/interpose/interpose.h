/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the project's LD_PRELOAD shims share: tests/ioctl-mock/ioctl_mock.c,
 * tests/cli/sysfs_fault.c and sim/preload.c. Finding the real function
 * behind an interposed one, the open() family's optional mode argument,
 * and errno names. Each shim stays a .so of its own; interpose.c is linked
 * into each (a static library, its symbols hidden).
 */
#ifndef APMATRIX_INTERPOSE_H
#define APMATRIX_INTERPOSE_H

#include <fcntl.h>
#include <stdarg.h>
#include <sys/types.h>

/* an interposed function: exported also where the shim hides the rest */
#define INTERPOSE_EXPORT __attribute__((visibility("default")))

/*
 * The next definition of name after the shim (the C library's). None:
 * "SHIM: no real NAME" on stderr and _exit(98).
 */
void *interpose_real(const char *shim, const char *name);

/* INTERPOSE_NEXT(shim, type, name): interpose_real() looked up once per
 * call site and kept (any thread may be first) */
#define INTERPOSE_NEXT(shim, type, name)				\
	({								\
		static __typeof__(type) fn_;				\
		__typeof__(type) f_ = __atomic_load_n(&fn_, __ATOMIC_ACQUIRE); \
		if (!f_) {						\
			f_ = (__typeof__(type))interpose_real((shim), (name)); \
			__atomic_store_n(&fn_, f_, __ATOMIC_RELEASE);	\
		}							\
		f_;							\
	})

/* Does open(2) take a mode argument with these flags? (glibc's own test) */
#define INTERPOSE_NEEDS_MODE(flags)					\
	(((flags) & O_CREAT) || ((flags) & __O_TMPFILE) == __O_TMPFILE)

/*
 * INTERPOSE_OPEN(fn, expr) defines int fn(const char *path, int flags, ...)
 * (open, open64) that returns expr, in which path, flags and mode (the
 * optional argument, 0 where open(2) reads none) are the call's.
 * INTERPOSE_OPENAT(fn, expr) does the same for
 * int fn(int dirfd, const char *path, int flags, ...) (openat, openat64).
 */
#define INTERPOSE_OPEN_BODY_(expr)					\
	{								\
		mode_t mode = 0;					\
		if (INTERPOSE_NEEDS_MODE(flags)) {			\
			va_list ap;					\
			va_start(ap, flags);				\
			mode = va_arg(ap, mode_t);			\
			va_end(ap);					\
		}							\
		return (expr);						\
	}
#define INTERPOSE_OPEN(fn, expr)					\
	INTERPOSE_EXPORT int fn(const char *path, int flags, ...) INTERPOSE_OPEN_BODY_(expr)
#define INTERPOSE_OPENAT(fn, expr)					\
	INTERPOSE_EXPORT int fn(int dirfd, const char *path, int flags, ...) \
	INTERPOSE_OPEN_BODY_(expr)

/* "EBUSY" -> EBUSY (the names a script or a fault spec may use); 0: unknown */
int interpose_errno(const char *name);
/* EBUSY -> "EBUSY"; NULL: not one of those names */
const char *interpose_errno_name(int err);

#endif /* APMATRIX_INTERPOSE_H */
