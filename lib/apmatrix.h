/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libapmatrix - give s390 AP queues to KVM guests.
 *
 * The one public header of libapmatrix. Every type is opaque. Every function
 * that can fail returns 0 (or a non-negative count) on success and a negative
 * errno on failure; constructors return NULL and set errno. The library never
 * prints and never exits. When a function that takes a context fails, a
 * one-line English message naming the bad part is kept in the context
 * (apmatrix_ctx_last_error()) until the next call on it.
 *
 * Errors: every function that takes a context, or a VM (which has one),
 * clears the context's message when it starts and sets it when it fails,
 * so apmatrix_ctx_last_error() is about the last call only ("" after a
 * success). Functions on plain data (matrices, APQN sets) that take no
 * context set none.
 *
 * Global state: none. A context is not thread-safe; use one per thread, or
 * lock around it.
 *
 * Ownership and lifetimes:
 * - A VM keeps a pointer to the context it was opened with: free the VM
 *   before the context. Host views, plans, grants, matrices and APQN sets
 *   keep none and may outlive it.
 * - Every _new()/_read()/_create()/_open_*() result is the caller's, freed
 *   with the matching _free() (NULL is fine there).
 * - A VM and a grant own a duplicate of the fd they were made from; the
 *   caller keeps (and closes) its own. apmatrix_vm_fd() and
 *   apmatrix_grant_get_fd() return the object's fd: do not close it.
 * - Strings returned: apmatrix_version(), apmatrix_rule_*() are static;
 *   apmatrix_ctx_get_*() are valid until that setting changes or the
 *   context is freed; apmatrix_ctx_last_error() until the next call on the
 *   context; card and queue strings (type, driver, state text) and the
 *   cards and queues themselves as long as their host view;
 *   apmatrix_plan_collateral() as long as its plan.
 *
 * Notation (that of IBM's lszcrypt): an APQN is written "AA.DDDD", adapter
 * and domain in hex ("05.0004"); lists "05.0004,05.0005"; ranges
 * "05-07.0004-0007". ID lists ("05,07-09") are hex. Masks are written as
 * /sys/bus/ap prints them: "0x" and 64 hex digits, ID 0 the most significant
 * bit.
 *
 * What the parsers take, exactly:
 * - An ID is one or more hex digits, either case, no sign ("5", "05",
 *   "0005" are the same); its value must be <= 0xff (-ERANGE otherwise).
 *   In APQN text no "0x" prefix; in ID lists each number may have one.
 * - Items are separated by commas; blanks (space, tab, newline) around
 *   items and at both ends are ignored, blanks inside an item are not.
 *   Empty items, a leading or a trailing comma are errors.
 * - A mask is "0x" followed by exactly 64 hex digits (a trailing newline
 *   is fine, so a file's contents can be passed as read). Other "0x"
 *   text whose value is at most 0xff is an ID, however many leading zeros
 *   it has ("0x05" and "0x0000000005" are ID 5); "0x" and 9 to 63 or more
 *   than 64 digits with a larger value is refused as a bad mask. The kernel's own ap_hex2bitmap()
 *   also takes shorter masks, filled from ID 0 ("0x8" = ID 0); that reads
 *   too easily as a number, so it is not accepted here.
 * Printers write lower-case hex, adapters with 2 digits and domains
 * (usage and control) with 4, as lszcrypt does, and use a range for every
 * run of two or more IDs.
 * Messages quote the bad part: "bad adapter '5x' in '5x.0004'", "adapter
 * 100 (0x100) is beyond 0xff in '100.0004'", "range 07-05 is backwards in
 * '07-05.0004'", "trailing comma in '05.0004,'", "APQNs 05.0004,06.0005 are
 * not a full adapters x domains matrix: it would also need
 * 05.0005,06.0004". Messages longer than 1023 characters end in "...".
 */
#ifndef APMATRIX_H
#define APMATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Highest adapter (APID) or domain (APQI) number of the architecture. */
#define APMATRIX_MAX_ID 255

/** Size in bytes of struct kvm_s390_ap_matrix (the ioctl payload). */
#define APMATRIX_KVM_MATRIX_SIZE 136

struct apmatrix_ctx;
struct apmatrix_matrix;
struct apmatrix_apqns;
struct apmatrix_host;
struct apmatrix_card;
struct apmatrix_queue;
struct apmatrix_plan;
struct apmatrix_vm;
struct apmatrix_grant_fd;
struct apmatrix_explanation;

/**
 * The library's version, e.g. "0.2.0" (its own, not that of the project
 * it ships with; the ABI is that of libapmatrix.so.0 and the symbol
 * versions in libapmatrix.sym). A static string.
 */
const char *apmatrix_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/**
 * The kernel answers a SET (and an open of a VM or grant) with one errno
 * per rule (the contract's table). apmatrix_rule_name() is the errno's
 * name ("EADDRINUSE"; NULL for one this library does not name);
 * apmatrix_rule_meaning() says what the rule means in one English
 * phrase ("an APQN is held by another VM"; NULL when err is no rule).
 * err may be negative. Static strings.
 */
const char *apmatrix_rule_name(int err);
const char *apmatrix_rule_meaning(int err);

/* ------------------------------------------------------------------------ */
/* Context                                                                  */

/**
 * Make a context. The sysfs root is taken from the environment variable
 * APMATRIX_SYSFS_ROOT when set (the directory that stands for /sys, as
 * s390-tools' SYSFS_ROOT), else "/sys". The AP configuration lock file is
 * /run/lock/s390apconfig.lock (the one s390-tools' chzdev -t ap and
 * ap-check take), or APMATRIX_LOCK_FILE when set; the longest wait for it
 * is APMATRIX_LOCK_TIMEOUT seconds (a decimal number from 0 to 86400,
 * e.g. "2.5") when set, else 30 s. A value of APMATRIX_LOCK_TIMEOUT or
 * APMATRIX_SETTLE_TIMEOUT that is no such number is not replaced by the
 * default: the context is made, apmatrix_ctx_last_error() names the
 * variable and its value right after, and every change that takes the lock
 * fails with -EINVAL and that message, nothing written, until
 * apmatrix_ctx_set_lock_timeout() gives a time (the lock's value only).
 * The environment is not read in a set-user-ID program.
 * Returns NULL with errno set on failure.
 */
struct apmatrix_ctx *apmatrix_ctx_new(void);
void apmatrix_ctx_free(struct apmatrix_ctx *ctx);
/** Set the directory that stands for /sys. Returns 0 or -errno. */
int apmatrix_ctx_set_sysfs_root(struct apmatrix_ctx *ctx, const char *dir);
const char *apmatrix_ctx_get_sysfs_root(const struct apmatrix_ctx *ctx);
/** Set the lock file held while apmask/aqmask are changed. */
int apmatrix_ctx_set_lock_file(struct apmatrix_ctx *ctx, const char *path);
const char *apmatrix_ctx_get_lock_file(const struct apmatrix_ctx *ctx);
/**
 * The device grants are made on: /dev/apmatrix, or APMATRIX_GRANT_DEVICE
 * when set (for tests, like the sysfs root).
 */
int apmatrix_ctx_set_grant_device(struct apmatrix_ctx *ctx, const char *path);
const char *apmatrix_ctx_get_grant_device(const struct apmatrix_ctx *ctx);
/**
 * The longest time apmatrix_plan_apply() waits for the AP configuration
 * lock before it fails with -ETIMEDOUT (0: do not wait).
 */
int apmatrix_ctx_set_lock_timeout(struct apmatrix_ctx *ctx, unsigned int ms);
unsigned int apmatrix_ctx_get_lock_timeout(const struct apmatrix_ctx *ctx);
/**
 * Called once when apmatrix_plan_apply() finds the lock held and starts to
 * wait: holder is the PID in the lock file (0 while it is being made), so
 * the caller can say why it waits. fn NULL: not told.
 */
typedef void (*apmatrix_lock_wait_fn)(struct apmatrix_ctx *ctx,
				      const char *lock_file, pid_t holder,
				      unsigned int timeout_ms, void *data);
void apmatrix_ctx_set_lock_wait_fn(struct apmatrix_ctx *ctx,
				   apmatrix_lock_wait_fn fn, void *data);
/** Message of the last call on ctx if it failed, "" if it did not. */
const char *apmatrix_ctx_last_error(const struct apmatrix_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Matrices: usage adapters x usage domains, plus control domains            */

/** Which part of a matrix an ID list or mask is about. */
enum apmatrix_part {
	APMATRIX_ADAPTERS = 0,		/* APM */
	APMATRIX_DOMAINS = 1,		/* AQM, usage domains */
	APMATRIX_CONTROL_DOMAINS = 2,	/* ADM */
};

/** An empty matrix, or NULL with errno set. */
struct apmatrix_matrix *apmatrix_matrix_new(void);
struct apmatrix_matrix *apmatrix_matrix_dup(const struct apmatrix_matrix *m);
void apmatrix_matrix_free(struct apmatrix_matrix *m);
void apmatrix_matrix_clear(struct apmatrix_matrix *m);
/** Set or clear one ID of a part. -ERANGE if id > 255, -EINVAL for a bad part. */
int apmatrix_matrix_set(struct apmatrix_matrix *m, enum apmatrix_part part,
			unsigned int id, bool on);
bool apmatrix_matrix_test(const struct apmatrix_matrix *m,
			  enum apmatrix_part part, unsigned int id);
/** Number of IDs set in a part. */
unsigned int apmatrix_matrix_count(const struct apmatrix_matrix *m,
				   enum apmatrix_part part);
/** True when no bit of any part is set. */
bool apmatrix_matrix_is_empty(const struct apmatrix_matrix *m);
bool apmatrix_matrix_equal(const struct apmatrix_matrix *a,
			   const struct apmatrix_matrix *b);
/** True when (apid, apqi) is a usage APQN of m (adapter and domain both set). */
bool apmatrix_matrix_has_apqn(const struct apmatrix_matrix *m,
			      unsigned int apid, unsigned int apqi);

/**
 * Parse APQN text ("05.0004", "05.0004,05.0005", "05-07.0004-0007") into the
 * usage part of m (adapters and domains; control domains untouched). The
 * APQNs must form a full cross product (KVM can only give adapters x
 * domains): if they do not, -EINVAL, m unchanged, and, when missing is not
 * NULL, it holds the APQNs the cross product would add. An empty string
 * gives an empty usage part. On any error m is unchanged and ctx (may be
 * NULL) holds a message naming the text that did not parse.
 */
int apmatrix_matrix_parse_apqns(struct apmatrix_ctx *ctx,
				struct apmatrix_matrix *m, const char *text,
				struct apmatrix_apqns *missing);
/**
 * Parse an ID list ("05,07-09", hex, as lszcrypt prints IDs; "0x"-prefixed
 * items allowed) or a /sys/bus/ap mask ("0x" + 64 hex digits) into one part
 * of m, replacing that part. -EINVAL or -ERANGE with a message in ctx;
 * m unchanged on error.
 */
int apmatrix_matrix_parse_ids(struct apmatrix_ctx *ctx,
			      struct apmatrix_matrix *m,
			      enum apmatrix_part part, const char *text);

/*
 * Printers. Each writes a NUL-terminated string into buf (len bytes) and
 * returns the length of the full string (without NUL), like snprintf: a
 * return >= len means the text was cut. Negative errno on bad arguments.
 */
/** Usage APQNs in lszcrypt notation, as ranges: "05-06.0004,05-06.0007-0008". "" when empty. */
int apmatrix_matrix_format_apqns(const struct apmatrix_matrix *m, char *buf,
				 size_t len);
/** One part as an ID list: "05,07-09" ("" when empty). */
int apmatrix_matrix_format_ids(const struct apmatrix_matrix *m,
			       enum apmatrix_part part, char *buf, size_t len);
/** One part as a /sys/bus/ap mask: "0x" + 64 hex digits (needs len >= 67). */
int apmatrix_matrix_format_mask(const struct apmatrix_matrix *m,
				enum apmatrix_part part, char *buf, size_t len);

/**
 * Convert to and from the ioctl payload, struct kvm_s390_ap_matrix
 * (APMATRIX_KVM_MATRIX_SIZE bytes, host byte order, the contract's bit
 * order). to_kvm writes flags and zero reserved words; from_kvm ignores
 * flags and returns -EINVAL if a reserved word is not zero.
 */
int apmatrix_matrix_to_kvm(const struct apmatrix_matrix *m, unsigned int flags,
			   void *buf, size_t len);
int apmatrix_matrix_from_kvm(struct apmatrix_matrix *m, const void *buf,
			     size_t len);

/* ------------------------------------------------------------------------ */
/* Sets of APQNs (any shape: refused APQNs, queues taken along, ...)          */

struct apmatrix_apqns *apmatrix_apqns_new(void);
void apmatrix_apqns_free(struct apmatrix_apqns *s);
void apmatrix_apqns_clear(struct apmatrix_apqns *s);
/** -ERANGE if an ID is > 255. */
int apmatrix_apqns_add(struct apmatrix_apqns *s, unsigned int apid,
		       unsigned int apqi);
bool apmatrix_apqns_contains(const struct apmatrix_apqns *s, unsigned int apid,
			     unsigned int apqi);
unsigned int apmatrix_apqns_count(const struct apmatrix_apqns *s);
/**
 * The idx-th APQN in ascending order (adapter, then domain). -ENOENT past
 * the end. Each call costs up to O(256 + idx); to walk a set use an
 * iterator (below). s is not changed.
 */
int apmatrix_apqns_get(const struct apmatrix_apqns *s, unsigned int idx,
		       unsigned int *apid, unsigned int *apqi);
/**
 * A walk through a set in ascending order, held by the caller (several
 * may walk one set at once; the set is never written):
 *
 *	struct apmatrix_apqns_iter it;
 *	unsigned int a, d;
 *
 *	apmatrix_apqns_iter_init(&it);
 *	while (apmatrix_apqns_next(s, &it, &a, &d))
 *		use(a, d);
 *
 * Adding to the set during the walk is allowed: APQNs after the last one
 * returned are seen. The whole walk is linear in 256 + count.
 */
struct apmatrix_apqns_iter {
	unsigned int next;	/* private: where the search goes on */
};
void apmatrix_apqns_iter_init(struct apmatrix_apqns_iter *it);
bool apmatrix_apqns_next(const struct apmatrix_apqns *s,
			 struct apmatrix_apqns_iter *it, unsigned int *apid,
			 unsigned int *apqi);
/** Parse lszcrypt APQN text into s (added to what is there). */
int apmatrix_apqns_parse(struct apmatrix_ctx *ctx, struct apmatrix_apqns *s,
			 const char *text);
/** "05.0004,05.0005" in ascending order; snprintf-like return. */
int apmatrix_apqns_format(const struct apmatrix_apqns *s, char *buf,
			  size_t len);
/**
 * Fill m's usage part from s. -EINVAL (m unchanged) if s is not a full
 * cross product; then missing (if not NULL) gets the APQNs it lacks.
 */
int apmatrix_matrix_from_apqns(struct apmatrix_ctx *ctx,
			       struct apmatrix_matrix *m,
			       const struct apmatrix_apqns *s,
			       struct apmatrix_apqns *missing);
/** Add every usage APQN of m to s. */
int apmatrix_apqns_add_matrix(struct apmatrix_apqns *s,
			      const struct apmatrix_matrix *m);

/* ------------------------------------------------------------------------ */
/* Host view: a snapshot of /sys/bus/ap                                      */

/** Who holds a queue on the host. */
enum apmatrix_holder {
	APMATRIX_HOLDER_HOST = 0,	/* apmask AND aqmask: the default zcrypt drivers */
	APMATRIX_HOLDER_FREE = 1,	/* taken from the default drivers, bound to no driver */
	APMATRIX_HOLDER_APMATRIX = 2,	/* bound to the apmatrix driver: can be given to a VM */
	APMATRIX_HOLDER_OTHER = 3,	/* bound to another non-default driver (e.g. vfio_ap) */
};

/**
 * Read the AP bus under the context's sysfs root. -ENODEV (message says
 * so) when there is no AP bus there; -EIO/-EINVAL naming the file when a
 * file is unreadable or malformed. Cards and queues are found in
 * bus/ap/devices (following its symlinks into devices/ap) and in each
 * card's directory; a device that vanishes while it is read is skipped.
 */
int apmatrix_host_read(struct apmatrix_ctx *ctx, struct apmatrix_host **host);
/**
 * What apmatrix_host_read_some() reads besides the bus's masks and the
 * drivers of cards and queues (which it always reads: a queue's holder
 * needs them). What is not read reads as unknown (-1, NULL, NONE).
 */
enum apmatrix_host_read_what {
	APMATRIX_READ_TYPE = 0x1,	/* cards' type */
	APMATRIX_READ_HWTYPE = 0x2,	/* cards' hwtype */
	APMATRIX_READ_STATUS = 0x4,	/* online, config, chkstop of cards and queues */
	APMATRIX_READ_STATE = 0x8,	/* apmatrix_state of the queues bound to apmatrix */
	APMATRIX_READ_ALL = 0xf,	/* all of these: apmatrix_host_read() */
	/*
	 * Instead of APMATRIX_READ_STATUS: only what lszcrypt's STATUS needs
	 * (apmatrix-ctl list): online (not of a queue bound to no driver,
	 * to apmatrix or to vfio_ap: only zcrypt's drivers have it); config
	 * unless online is 1 (the kernel shows online 1 only when configured
	 * and not check-stopped); then chkstop unless config is 0.
	 */
	APMATRIX_READ_STATUS_SHOWN = 0x10,
};
/**
 * apmatrix_host_read() reading only what (enum apmatrix_host_read_what
 * ORed; unknown bits: -EINVAL) and, when only is not NULL, only the
 * queues in it and their cards: the view then holds no other queue and no
 * card without one of them (ap_adapter_mask and the other bus masks are
 * read all the same). Each sysfs attribute is read at most once.
 */
int apmatrix_host_read_some(struct apmatrix_ctx *ctx, unsigned int what,
			    const struct apmatrix_apqns *only,
			    struct apmatrix_host **host);
void apmatrix_host_free(struct apmatrix_host *host);
/** ap_max_adapter_id / ap_max_domain_id (63 / 15 when the files are absent). */
unsigned int apmatrix_host_max_adapter_id(const struct apmatrix_host *host);
unsigned int apmatrix_host_max_domain_id(const struct apmatrix_host *host);
/**
 * Copy masks into m: APMATRIX_HOST_MASKS gives apmask as adapters and
 * aqmask as domains (control domains empty); APMATRIX_HOST_CONFIG gives the
 * configured adapters (ap_adapter_mask, the QCI APM; without it, the
 * cards present that are not deconfigured) and ap_usage_domain_mask /
 * ap_control_domain_mask (without them: the domains of the queues present,
 * and no control domains). "not supported" (no QCI) counts as absent.
 */
enum apmatrix_host_masks {
	APMATRIX_HOST_MASKS = 0,
	APMATRIX_HOST_CONFIG = 1,
};
int apmatrix_host_get_masks(const struct apmatrix_host *host,
			    enum apmatrix_host_masks which,
			    struct apmatrix_matrix *m);
/** Cards in ascending ID order. */
unsigned int apmatrix_host_num_cards(const struct apmatrix_host *host);
const struct apmatrix_card *apmatrix_host_card(const struct apmatrix_host *host,
					       unsigned int idx);
/** The queue (apid, apqi) if it exists, else NULL. */
const struct apmatrix_queue *apmatrix_host_queue(const struct apmatrix_host *host,
						 unsigned int apid,
						 unsigned int apqi);

unsigned int apmatrix_card_id(const struct apmatrix_card *card);
/** Card type as sysfs "type" says, e.g. "CEX8C"; NULL when there is none
 * (the file exists only while the card is bound to cex4card). */
const char *apmatrix_card_type(const struct apmatrix_card *card);
/** Name of the driver bound to the card ("cex4card"), NULL if none. */
const char *apmatrix_card_driver(const struct apmatrix_card *card);
/** Raw hardware type (sysfs "hwtype"), -1 if unknown. */
int apmatrix_card_hwtype(const struct apmatrix_card *card);
/** 1 online, 0 offline, -1 unknown. */
int apmatrix_card_online(const struct apmatrix_card *card);
/** 1 configured, 0 deconfigured (standby), -1 unknown. */
int apmatrix_card_config(const struct apmatrix_card *card);
/** 1 check-stopped, 0 not, -1 unknown. */
int apmatrix_card_chkstop(const struct apmatrix_card *card);
/** Queues in ascending domain order. */
unsigned int apmatrix_card_num_queues(const struct apmatrix_card *card);
const struct apmatrix_queue *apmatrix_card_queue(const struct apmatrix_card *card,
						 unsigned int idx);

unsigned int apmatrix_queue_apid(const struct apmatrix_queue *q);
unsigned int apmatrix_queue_apqi(const struct apmatrix_queue *q);
/** 1 online, 0 offline, -1 unknown (no zcrypt driver bound). */
int apmatrix_queue_online(const struct apmatrix_queue *q);
/** The queue's own "config" and "chkstop": 1, 0, or -1 unknown. */
int apmatrix_queue_config(const struct apmatrix_queue *q);
int apmatrix_queue_chkstop(const struct apmatrix_queue *q);
/** Name of the driver bound to the queue ("cex4queue", "vfio_ap", "apmatrix"), NULL if none. */
const char *apmatrix_queue_driver(const struct apmatrix_queue *q);
enum apmatrix_holder apmatrix_queue_holder(const struct apmatrix_queue *q);

/** A queue's state under the apmatrix driver (its sysfs apmatrix_state). */
enum apmatrix_queue_state {
	APMATRIX_QSTATE_NONE = 0,	/* no apmatrix_state: not bound to apmatrix */
	APMATRIX_QSTATE_FREE = 1,	/* "free": no VM holds it */
	APMATRIX_QSTATE_IN_USE = 2,	/* "in use <pid>": a VM of that VMM holds it */
	APMATRIX_QSTATE_RESETTING = 3,	/* "resetting": left a VM, reset not done (EBUSY) */
	APMATRIX_QSTATE_RESET_FAILED = 4, /* "reset failed": given up (EBUSY) */
	APMATRIX_QSTATE_OTHER = 5,	/* text this library does not know, or
					 * "unknown: readable by root only" (the
					 * attribute is 0400) */
};
/**
 * The state; *pid (may be NULL) gets the VMM's pid for IN_USE, else 0.
 * apmatrix_queue_state_text() is the attribute's text as read (NULL when
 * there is none), valid as long as the host view.
 */
enum apmatrix_queue_state apmatrix_queue_state(const struct apmatrix_queue *q,
						pid_t *pid);
const char *apmatrix_queue_state_text(const struct apmatrix_queue *q);

/* ------------------------------------------------------------------------ */
/* Reserve and release: move queues between the host's default drivers and   */
/* the drivers for guests, by changing /sys/bus/ap/apmask and aqmask.         */

/**
 * Plan taking every usage APQN of want away from the default drivers
 * (reserve), or giving them back (release). Nothing is written.
 * -EINVAL (message) if want has no usage APQN.
 *
 * A reserve must clear, for every wanted APQN the default drivers still
 * hold, its adapter bit in apmask or its domain bit in aqmask. Those APQNs
 * are A x D (A: wanted adapters still in apmask, D: wanted domains still
 * in aqmask), a complete bipartite graph, so the bits cleared contain all
 * of A or all of D; clearing more only costs more. Both are computed; each
 * takes along the existing queues outside want that the default drivers
 * hold and whose adapter (resp. domain) bit it clears. The one that takes
 * fewer wins; on a tie the one that clears fewer bits; then the adapters.
 * When A or D is empty the plan is a no-op.
 * A release sets every wanted adapter bit in apmask and every wanted
 * domain bit in aqmask.
 */
int apmatrix_plan_reserve(struct apmatrix_ctx *ctx,
			  const struct apmatrix_host *host,
			  const struct apmatrix_matrix *want,
			  struct apmatrix_plan **plan);
int apmatrix_plan_release(struct apmatrix_ctx *ctx,
			  const struct apmatrix_host *host,
			  const struct apmatrix_matrix *want,
			  struct apmatrix_plan **plan);
void apmatrix_plan_free(struct apmatrix_plan *plan);
/** True when the masks already are as wanted (nothing to write). */
bool apmatrix_plan_is_noop(const struct apmatrix_plan *plan);
/** Masks before and after: adapters = apmask, domains = aqmask. */
int apmatrix_plan_get_masks(const struct apmatrix_plan *plan, bool after,
			    struct apmatrix_matrix *m);
/**
 * Existing queues other than those wanted whose holder changes with the
 * plan (taken from the host along with them, or given back along with
 * them). Owned by the plan.
 */
const struct apmatrix_apqns *apmatrix_plan_collateral(const struct apmatrix_plan *plan);
/**
 * Write the plan. Holds the AP configuration lock from re-reading the
 * masks to the last write, taken as s390-tools takes it (a file holding
 * the PID, made by link(), removed on release; its directory must exist),
 * so apmatrix and s390-tools' chzdev/ap-check exclude each other. A lock
 * held by a live process is waited for, at most the context's lock
 * timeout (-ETIMEDOUT, the holder named); a lock whose process is gone is
 * removed; a lock file that is a symbolic link (-ELOOP) or not a regular
 * file (-EINVAL) is refused. Every catchable signal that ends or stops
 * the process is blocked while the lock is held, so both masks are
 * written (or rolled back) whole; a signal that arrived meanwhile is
 * delivered on return. -EAGAIN if the masks changed since the plan was
 * made. Each mask is written as the kernel prints it, "0x" + 64 hex digits
 * + "\n", with one open/write/close, apmask first. apmask and aqmask both
 * change or neither: if the second write fails the first is rolled back.
 * The error (e.g. -EBUSY: a queue is in use by a guest) and the mask that
 * refused it are named in ctx: "writing aqmask: Device or resource busy
 * (EBUSY); apmask rolled back". A no-op plan writes nothing, takes no lock.
 */
int apmatrix_plan_apply(struct apmatrix_ctx *ctx,
			const struct apmatrix_plan *plan);

/* ------------------------------------------------------------------------ */
/* Grants: the authority to add queues and control domains to a VM          */

/*
 * Adding a usage APQN or a control domain that a VM does not already hold
 * needs a grant that covers it, or CAP_SYS_ADMIN (the kernel says EPERM
 * otherwise). A grant is a file descriptor the administrator makes on
 * /dev/apmatrix and hands to the VMM; it claims nothing. Its matrix is
 * readable by its holder (/proc/self/fdinfo). (The type is called
 * apmatrix_grant_fd so as not to clash with the uapi's struct
 * apmatrix_grant in <asm/apmatrix.h>.)
 */

/**
 * Make a grant for m (usage adapters x domains, control domains) with the
 * APMATRIX_CREATE_GRANT ioctl on the context's grant device. -EINVAL for
 * an empty matrix; the kernel's -errno otherwise (-ENODEV: an ID beyond
 * the host's configuration, or a control domain the host does not have;
 * -EACCES: not allowed to open the device). The new grant owns its fd
 * (close-on-exec).
 */
int apmatrix_grant_create(struct apmatrix_ctx *ctx,
			  const struct apmatrix_matrix *m,
			  struct apmatrix_grant_fd **grant);
/**
 * Use a grant fd this process was given (e.g. inherited, its number in
 * APMATRIX_GRANT_FD). The fd is duplicated (close-on-exec); the caller
 * keeps its own. -EBADF when fd is not open, -EINVAL when it is no grant.
 */
int apmatrix_grant_open_fd(struct apmatrix_ctx *ctx, int fd,
			   struct apmatrix_grant_fd **grant);
/** Close the grant's fd and free it. A VM given it keeps its own copy. */
void apmatrix_grant_free(struct apmatrix_grant_fd *grant);
/** The grant's fd (owned by the grant: do not close it). */
int apmatrix_grant_get_fd(const struct apmatrix_grant_fd *grant);
/** What the grant allows, as read from fdinfo when it was made or opened. */
int apmatrix_grant_get_matrix(const struct apmatrix_grant_fd *grant,
			      struct apmatrix_matrix *m);

/* ------------------------------------------------------------------------ */
/* VMs                                                                       */

/** Flags of apmatrix_vm_set(): the contract's KVM_S390_AP_MATRIX_* values. */
#define APMATRIX_SET_VALIDATE_ONLY	(1U << 0)
#define APMATRIX_SET_RESET		(1U << 1)

/**
 * Use a KVM VM fd of this process. The fd is duplicated (CLOEXEC); the
 * caller keeps its own. -EBADF when fd is not open; -ENOTTY when
 * /proc/self/fd says it is no KVM VM ("fd 0 is not a KVM VM: it is
 * /dev/pts/0"; without /proc it is taken as it is).
 */
int apmatrix_vm_open_fd(struct apmatrix_ctx *ctx, int fd,
			struct apmatrix_vm **vm);
/**
 * Use a VM of process pid: its fds that are "anon_inode:kvm-vm" in
 * /proc/PID/fd; fd < 0 takes the only one (-EEXIST, with the candidates
 * named, when there are several: pass fd; fds that kcmp() shows to be the
 * same open file count once), fd >= 0 that one. The pidfd is opened
 * before /proc/PID/fd is read, and the process must still be there after
 * that read (else -ESRCH, "exited while its fds were being read": its PID
 * may name another process by then, and nothing is taken); the fd is then
 * taken from the pidfd's process with pidfd_getfd() and must be a KVM VM
 * still. -ESRCH no such process, -EPERM/-EACCES
 * not allowed (ptrace access is needed), -ENOENT no VM fd there (also: fd
 * is not open, or is no VM), -ENOSYS the kernel lacks pidfd_getfd() (5.6).
 */
int apmatrix_vm_open_pid(struct apmatrix_ctx *ctx, pid_t pid, int fd,
			 struct apmatrix_vm **vm);
void apmatrix_vm_free(struct apmatrix_vm *vm);
int apmatrix_vm_fd(const struct apmatrix_vm *vm);
/** 0 when the kernel offers KVM_S390_VM_CRYPTO_SET_AP_MATRIX here, else -ENXIO (or another -errno). */
int apmatrix_vm_probe(struct apmatrix_vm *vm);
/**
 * Pass a grant with every later apmatrix_vm_set() on vm (and with the
 * probes of apmatrix_vm_explain()): the KVM_S390_AP_MATRIX_GRANT flag and
 * its fd. The VM keeps its own duplicate of the fd, so the grant may be
 * freed; NULL stops passing one. A grant is needed only to add queues or
 * control domains; keeping, dropping and resetting what the VM holds
 * needs none.
 */
int apmatrix_vm_set_grant(struct apmatrix_vm *vm,
			  const struct apmatrix_grant_fd *grant);
/** Replace the VM's whole matrix (KVM_SET_DEVICE_ATTR). Returns 0 or the kernel's -errno. */
int apmatrix_vm_set(struct apmatrix_vm *vm, const struct apmatrix_matrix *m,
		    unsigned int flags);
/** Read the VM's matrix (KVM_GET_DEVICE_ATTR). */
int apmatrix_vm_get(struct apmatrix_vm *vm, struct apmatrix_matrix *m);
/** Give up every queue (an empty matrix). */
int apmatrix_vm_clear(struct apmatrix_vm *vm);
/** Turn on AP interpretation for the VM (KVM_S390_VM_CRYPTO_ENABLE_APIE). */
int apmatrix_vm_enable_apie(struct apmatrix_vm *vm);
/**
 * After apmatrix_vm_set(vm, m, ...) failed with err (negative or positive),
 * find what was refused, as the contract's "Naming what was refused" says:
 * IDs out of range (-ENODEV) are added to refused_ids (may be NULL), APQNs
 * (-EADDRNOTAVAIL, -EADDRINUSE, -EBUSY) to refused (may be NULL); only
 * VALIDATE_ONLY probes are issued, nothing changes. The message in ctx
 * names them and the rule, e.g. "05.0004,05.0005: held by another VM
 * (EADDRINUSE)"; several rules are joined by "; ", in the kernel's order.
 * - ENODEV: IDs beyond the host's ap_max_adapter_id / ap_max_domain_id
 *   ("adapter 40: beyond the host's AP configuration (max adapter 0x3f)");
 *   IDs the host has but CRYCB formats 0/1 lack (APID > 63, domain > 15):
 *   one probe with the highest of them tells whether this VM's format
 *   holds them ("... beyond what this VM's CRYCB format holds").
 * - EADDRNOTAVAIL: from the host view: "not set aside for guests (still
 *   owned by the host's default drivers)", "bound to vfio_ap, not to
 *   apmatrix", "not bound to the apmatrix driver".
 * - EADDRINUSE, EBUSY: a probe per adapter row (its adapter x all wanted
 *   domains, no control domains), then each refused row is halved until
 *   every refused APQN stands alone (about 2 log2(domains) probes per
 *   refused APQN, at most 1024 such probes in all); each APQN is reported
 *   with the rule that refused it alone ("held by another VM", "still
 *   being reset after leaving another VM, or its reset failed", or one of
 *   the above). When the 1024 are used up, the APQNs of refused rows not
 *   yet told apart are named as such, after the rest: "and N more APQNs
 *   not probed one by one (...): some of them are refused (EADDRINUSE):
 *   LIST", with the rule of a refused one among them; they go to refused
 *   too, so that m without refused is a matrix the kernel takes.
 * - EPERM: the APQNs and control domains the request adds that the VM
 *   does not hold (a GET) and the VM's grant does not cover ("05.0004:
 *   not held by this VM and not covered by its grant (EPERM)"; without a
 *   grant "... adding it needs a grant or CAP_SYS_ADMIN"); APQNs go to
 *   refused, control domains to refused_ids.
 * - EIO (after APMATRIX_SET_RESET): a GET tells what the VM holds now;
 *   the wanted APQNs it lacks were dropped with the adapter of a queue
 *   whose reset failed; those whose apmatrix_state says "reset failed"
 *   are named as failed. All go to refused.
 * - EINVAL, EOPNOTSUPP, ENXIO and any other errno name no APQN: the
 *   message says what the rule means, and 0 is returned.
 * Returns 0 when something was named, -EAGAIN when the probes found
 * nothing (the state changed: retry), -EINVAL for err 0, another -errno
 * when a probe failed for another reason (message names the probe).
 */
int apmatrix_vm_explain(struct apmatrix_vm *vm, const struct apmatrix_matrix *m,
			int err, struct apmatrix_apqns *refused,
			struct apmatrix_matrix *refused_ids);

/**
 * The same, as a structured result the caller walks rather than a
 * message: *out gets the findings in the order of the message (the
 * kernel's order of the rules), also for -EAGAIN (then none); free it
 * with apmatrix_explanation_free(). The context's message is set as by
 * apmatrix_vm_explain(). Returns what apmatrix_vm_explain() returns.
 */
int apmatrix_vm_explain_all(struct apmatrix_vm *vm,
			    const struct apmatrix_matrix *m, int err,
			    struct apmatrix_explanation **out);
unsigned int apmatrix_explanation_count(const struct apmatrix_explanation *x);
/**
 * Finding idx (0..count-1): *err the errno of its rule (positive; see
 * apmatrix_rule_name()), *reason why in one phrase ("held by another VM"),
 * *apqns the APQNs it names or NULL, *ids the IDs it names (ENODEV: the
 * part beyond a limit; EPERM: control domains) or NULL. Each out pointer
 * may be NULL; what they point to belongs to x. -ENOENT past the end.
 */
int apmatrix_explanation_get(const struct apmatrix_explanation *x,
			     unsigned int idx, int *err, const char **reason,
			     const struct apmatrix_apqns **apqns,
			     const struct apmatrix_matrix **ids);
void apmatrix_explanation_free(struct apmatrix_explanation *x);
/* ------------------------------------------------------------------------ */
/* Transactions: hold the AP configuration lock across read, plan and write  */

/**
 * Take the AP configuration lock as apmatrix_plan_apply() takes it
 * (s390-tools' protocol; signals that end or stop the process are blocked
 * while it is held) and keep it until apmatrix_unlock() or
 * apmatrix_ctx_free(). With wait false, -EWOULDBLOCK when another process
 * holds it; with wait true, wait at most the context's lock timeout
 * (-ETIMEDOUT, the holder named; the lock wait function is told when the
 * wait starts). While the context holds it, apmatrix_plan_apply() uses it
 * instead of taking it again, so a caller can read the host, plan, check
 * and write as one transaction. -EALREADY if this context holds it already.
 */
int apmatrix_lock(struct apmatrix_ctx *ctx, bool wait);
/** Drop the lock taken by apmatrix_lock(); nothing if not held. */
void apmatrix_unlock(struct apmatrix_ctx *ctx);

/**
 * Plan setting apmask and aqmask to exactly the masks in want (adapters =
 * apmask, domains = aqmask; control domains ignored). The collateral are
 * every existing queue whose holder changes between the default drivers
 * and the rest. Nothing is written.
 */
int apmatrix_plan_masks(struct apmatrix_ctx *ctx,
			const struct apmatrix_host *host,
			const struct apmatrix_matrix *want,
			struct apmatrix_plan **plan);

/**
 * Bind queue (apid, apqi) to AP driver driver ("apmatrix"), or unbind it
 * from the driver it has (driver NULL), through
 * /sys/bus/ap/drivers/DRIVER/bind or .../unbind. 0 or -errno with a
 * message naming the queue and the file.
 */
int apmatrix_queue_bind(struct apmatrix_ctx *ctx, unsigned int apid,
			unsigned int apqi, const char *driver);

/* ------------------------------------------------------------------------ */
/* Reserve for apmatrix: the masks, then the queues' driver                  */

/**
 * Flags of apmatrix_plan_apply_claim(). NO_REBIND: write the masks and
 * report each queue's driver, but bind and unbind nothing.
 *
 * A flag the library does not know is -EINVAL ("bad arguments"), nothing
 * looked at or written. The 0.2.0 release knows NO_REBIND only: DRY_RUN
 * and TAKEN_ONLY (and the action REPROBE) are new in 0.2.1, with the same
 * symbol and version node, so a caller that may meet a 0.2.0 library takes
 * -EINVAL for "not supported here" (apmatrix_version() tells which).
 */
#define APMATRIX_CLAIM_NO_REBIND	(1U << 0)
/*
 * DRY_RUN: write, bind and unbind nothing and take no lock; say from each
 * queue's driver now what the call would do (MOVED, BOUND: would be) and
 * fail as it would fail before writing: -EADDRINUSE for a queue with
 * vfio_ap a mediated device has (every queue is looked at, the first such
 * is the message; the queues not refused are then LEFT, as the real call
 * leaves them, "not bound to apmatrix: the reserve failed"), -EINVAL for an APMATRIX_LOCK_TIMEOUT or
 * APMATRIX_SETTLE_TIMEOUT the lock would refuse. A queue a default
 * driver has now is REPROBE.
 */
#define APMATRIX_CLAIM_DRY_RUN		(1U << 1)
/*
 * TAKEN_ONLY: of the queues of want, look only at those the plan takes
 * from the default drivers and those without a driver; a queue set aside
 * already and bound to a driver (vfio_ap's, say) is left to it, not looked
 * at (apmatrix-ctl apply: want is every APQN, the configuration's sets
 * are checked by the caller).
 */
#define APMATRIX_CLAIM_TAKEN_ONLY	(1U << 2)

/** What apmatrix_plan_apply_claim() did with, or found at, one queue. */
enum apmatrix_claim_action {
	APMATRIX_CLAIM_KEPT = 0,	/* bound to apmatrix already (the bus probed it there) */
	APMATRIX_CLAIM_MOVED = 1,	/* taken from vfio_ap (no mediated device had it) */
	APMATRIX_CLAIM_BOUND = 2,	/* it had no driver: bound to apmatrix */
	APMATRIX_CLAIM_LEFT = 3,	/* left with its driver (or none): see the reason */
	APMATRIX_CLAIM_REFUSED = 4,	/* cannot be moved: the whole call failed */
	/*
	 * DRY_RUN only: a default driver has it now; the mask write takes it
	 * and the bus re-probes it (to apmatrix, or to vfio_ap when that
	 * registered first: the reason says so when vfio_ap is loaded)
	 */
	APMATRIX_CLAIM_REPROBE = 5,
};

struct apmatrix_claim;

/**
 * Apply a reserve plan (apmatrix_plan_reserve()) and see the queues of
 * want end up with the apmatrix AP driver, as one transaction under the
 * AP configuration lock (taken as apmatrix_plan_apply() takes it).
 *
 * After the mask writes the AP bus re-probes the queues taken from the
 * default drivers; another non-default driver registered before apmatrix
 * (vfio_ap) may get them. For every queue of want that host has and that
 * the default drivers do not hold after the plan:
 * - bound to apmatrix: kept;
 * - bound to vfio_ap whose per-queue attribute "status" says
 *   "unassigned" (no mediated device has it): unbound from vfio_ap and
 *   bound to apmatrix (bus/ap/drivers/NAME/unbind, bind);
 * - bound to vfio_ap and "assigned" or "in use" (a mediated device's
 *   matrix has it), or its status unreadable: refused;
 * - bound to no driver: bound to apmatrix when bus/ap/drivers/apmatrix
 *   exists, else left (the driver is not loaded);
 * - bound to any other driver: left.
 * Queues without a driver right after the writes are waited for (the
 * bus's re-probe), at most APMATRIX_SETTLE_TIMEOUT seconds (environment,
 * default 2). A queue the plan takes along (collateral) is not moved.
 * With APMATRIX_CLAIM_NO_REBIND nothing is bound or unbound: queues with
 * vfio_ap or no driver are left, and nothing is refused.
 *
 * Queues refused are found before anything is written when they are
 * with vfio_ap already. On any failure (a refusal, a bind or unbind or
 * mask write the kernel refuses) what was done is undone: queues moved
 * go back to their driver, then the masks are written back (a queue
 * the plan gave back to the default drivers that apmatrix had is bound
 * to apmatrix again: the bus's re-probe may give it to vfio_ap), and the
 * message names the queue, its driver and why: "05.0004: bound to
 * vfio_ap and assigned to a mediated device (status 'assigned'):
 * nothing changed". A failed undo is named in the message too.
 *
 * *out (may be NULL) gets one entry per queue looked at, also on
 * failure (then the refused one is among them); free it with
 * apmatrix_claim_free(). A no-op plan writes no mask but still looks at
 * the queues. Returns 0 or -errno: -EADDRINUSE for a queue a mediated
 * device has, -EBUSY for a queue with another driver that cannot be
 * moved, the kernel's errno for a refused write.
 */
int apmatrix_plan_apply_claim(struct apmatrix_ctx *ctx,
			      const struct apmatrix_host *host,
			      const struct apmatrix_plan *plan,
			      const struct apmatrix_matrix *want,
			      unsigned int flags, struct apmatrix_claim **out);
unsigned int apmatrix_claim_count(const struct apmatrix_claim *c);
/**
 * Entry idx (ascending APQN order): the queue, what was done, the driver
 * it was bound to when looked at after the masks were written (NULL:
 * none) and, for LEFT and REFUSED, why in one phrase (else NULL). Out
 * pointers may be NULL; strings belong to c. -ENOENT past the end.
 */
int apmatrix_claim_get(const struct apmatrix_claim *c, unsigned int idx,
		       unsigned int *apid, unsigned int *apqi,
		       enum apmatrix_claim_action *action, const char **driver,
		       const char **reason);
/**
 * True when the plan's masks were written and are still in place when
 * apmatrix_plan_apply_claim() returned: after a success with masks to
 * write, and after a failure whose undo could not write them back.
 */
bool apmatrix_claim_masks_written(const struct apmatrix_claim *c);
void apmatrix_claim_free(struct apmatrix_claim *c);

#ifdef __cplusplus
}
#endif

#endif /* APMATRIX_H */
