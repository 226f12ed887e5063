/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libapmatrix: private definitions shared by the library's source files. */
#ifndef APMATRIX_INTERNAL_H
#define APMATRIX_INTERNAL_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "apmatrix.h"

#define APM_NIDS	256
#define APM_WORDS	4
#define APM_NPARTS	3
#define APM_ERRLEN	1024

struct apmatrix_ctx {
	char *sysfs_root;
	char *lock_file;
	char *grant_device;
	unsigned int lock_timeout_ms;
	apmatrix_lock_wait_fn lock_wait_fn;
	void *lock_wait_data;
	struct apm_lock *txn_lock;	/* while apmatrix_lock() holds the lock */
	unsigned int settle_timeout_ms;	/* the bus's re-probe after a mask write */
	/* an environment value apmatrix_ctx_new() could not use, "" if none:
	 * the lock is then refused with it (apm_lock_take) */
	char lock_env_err[128];
	char settle_env_err[128];
	char err[APM_ERRLEN];
};

/*
 * Bitmaps are kept in the architecture's order: ID n is bit (63 - n % 64)
 * of word n / 64, as in the CRYCB, in /sys/bus/ap and in the ioctl payload.
 */
typedef uint64_t apm_bits[APM_WORDS];

struct apmatrix_matrix {
	apm_bits part[APM_NPARTS];
};

struct apmatrix_apqns {
	apm_bits row[APM_NIDS];		/* row[apid]: the domains of that adapter */
	uint16_t row_count[APM_NIDS];
	unsigned int count;
};

static inline uint64_t apm_bit(unsigned int id)
{
	return 1ULL << (63 - id % 64);
}

static inline bool bits_test(const apm_bits b, unsigned int id)
{
	return id < APM_NIDS && (b[id / 64] & apm_bit(id));
}

static inline void bits_set(apm_bits b, unsigned int id, bool on)
{
	if (on)
		b[id / 64] |= apm_bit(id);
	else
		b[id / 64] &= ~apm_bit(id);
}

unsigned int apm_bits_count(const apm_bits b);
bool apm_bits_empty(const apm_bits b);
/* "0x" + 64 hex digits, no newline; out needs 67 bytes */
void apm_bits_to_mask(const apm_bits b, char out[67]);
/* strict kernel form: "0x" + 64 hex digits, optional trailing newline */
int apm_bits_from_mask(apm_bits b, const char *text);
/* ID list text, "05,07-09" (width 2 or 4 hex digits); snprintf-like */
int apm_bits_format(const apm_bits b, int width, char *buf, size_t len);

/* A new call on ctx begins: no message yet. */
static inline void apm_clear_error(struct apmatrix_ctx *ctx)
{
	if (ctx)
		ctx->err[0] = '\0';
}

/* Set ctx's message (if ctx) and return -err. */
int apm_fail(struct apmatrix_ctx *ctx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void apm_set_msg(struct apmatrix_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "Device or resource busy (EBUSY)" into buf */
const char *apm_strerror(int err, char *buf, size_t len);
/* "EBUSY", or NULL if unknown */
const char *apm_errno_name(int err);

/* A growing or fixed text buffer with snprintf semantics. */
struct apm_sbuf {
	char *buf;
	size_t len;
	size_t pos;
};
void apm_sb_init(struct apm_sbuf *sb, char *buf, size_t len);
void apm_sb_printf(struct apm_sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int apm_sb_result(struct apm_sbuf *sb);

/* lock.c: the AP configuration lock (s390-tools' protocol) */
struct apm_lock {
	char *tmp;		/* the temporary PID file while taking */
	struct stat st;		/* the PID file linked as the lock */
	sigset_t oldmask;	/* signals blocked while held */
	bool held;
};
/*
 * Take it (waiting at most the ctx's timeout); signals blocked while held.
 * -EINVAL, nothing taken, while an environment timeout was not usable.
 */
int apm_lock_take(struct apmatrix_ctx *ctx, struct apm_lock *l);
/* -EINVAL (message) while an environment timeout was not usable, else 0 */
int apm_env_refusal(struct apmatrix_ctx *ctx);
/* Remove the lock file if it is ours, then unblock the signals. */
void apm_lock_release(struct apmatrix_ctx *ctx, struct apm_lock *l);
void apm_block_signals(sigset_t *old);
void apm_restore_signals(const sigset_t *old);

/* grant.c: the matrix of grant fd, from /proc/self/fdinfo (messages say shown) */
int apm_grant_read(struct apmatrix_ctx *ctx, int fd, int shown,
		   struct apmatrix_matrix *m);

/* host.c: read one mask file of the bus directory (kernel format) */
int apm_read_mask_file(struct apmatrix_ctx *ctx, const char *name, apm_bits b);

/* plan.c: write a plan's masks (lock held), write them back; is a queue on
 * the host's side (the default drivers') before or after the plan */
int apm_plan_write(struct apmatrix_ctx *ctx, const struct apmatrix_plan *plan);
int apm_plan_unwrite(struct apmatrix_ctx *ctx, const struct apmatrix_plan *plan);
bool apm_plan_host_side(const struct apmatrix_plan *plan, bool after,
			unsigned int apid, unsigned int apqi);

/*
 * plan.c: one write(2) of text to path opened O_WRONLY | O_CLOEXEC |
 * oflags, as `echo TEXT > path`; 0 or -errno (EIO: a short write).
 * Plain open/write/close: a simulated host may interpose them.
 */
int apm_write_text(const char *path, const char *text, int oflags);

/* txn.c: the driver queue name ("05.0004") is bound to now, "" if none */
int apm_queue_driver(struct apmatrix_ctx *ctx, const char *name, char *buf,
		     size_t len);
/* txn.c: write the queue's name to bus/ap/drivers/DRIVER/unbind */
int apm_queue_unbind_from(struct apmatrix_ctx *ctx, unsigned int apid,
			  unsigned int apqi, const char *driver);

#endif /* APMATRIX_INTERNAL_H */
