// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl - give s390 AP crypto queues to KVM guests.
 *
 * The command line front end of libapmatrix for administrators and VMMs:
 * show the host's AP queues and who holds them (list), take queues away
 * from the host's default zcrypt drivers or give them back (reserve,
 * release), and read or replace the AP matrix of a KVM VM through the
 * KVM_S390_VM_CRYPTO_SET_AP_MATRIX attribute (set, get, clear, probe,
 * enable-apie).
 *
 * Rules kept throughout: every argument is checked before anything is
 * written; every error is one line on stderr, "apmatrix-ctl: " + what and
 * why, and one of the exit codes of exit_codes[] below (the man page lists
 * the same table).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <json.h>

#include "apmatrix.h"
#include "ctl-ext.h"

#define PROG "apmatrix-ctl"

#ifndef APMATRIX_CTL_VERSION
#define APMATRIX_CTL_VERSION "unknown"
#endif

/* ------------------------------------------------------------------------ */
/* Exit codes: the one table (the man page's EXIT STATUS mirrors it).        */

enum rc {
	RC_OK = 0,
	RC_USAGE = 1,
	RC_HOST = 2,
	RC_REFUSED = 3,
	RC_UNSUPPORTED = 4,
	RC_NO_VM = 5,
	RC_RETRY = 6,
};

static const struct {
	enum rc code;
	const char *meaning;
} exit_codes[] = {
	{ RC_OK, "success" },
	{ RC_USAGE, "usage error: bad option, argument or APQN text" },
	{ RC_HOST, "host error: /sys/bus/ap unreadable or malformed, a mask write failed, lock or system error" },
	{ RC_REFUSED, "the kernel's rules refused the matrix (ENODEV, EADDRNOTAVAIL, EADDRINUSE, EBUSY, EINVAL)" },
	{ RC_UNSUPPORTED, "not supported: the kernel or host does not offer the interface (ENXIO, EOPNOTSUPP)" },
	{ RC_NO_VM, "VM not found or not allowed: no such process, no or several VM fds, a --vm-fd that is not open or not a VM (EBADF, ENOTTY), EPERM/EACCES" },
	{ RC_RETRY, "the host said no for now: a mask write vetoed (EBUSY: a queue is in use by a guest) or the state changed (EAGAIN): retry" },
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

static void __attribute__((format(printf, 1, 2))) errmsg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct {
	int err;
	const char *name;
} errno_names[] = {
	{ EPERM, "EPERM" },		{ ENOENT, "ENOENT" },
	{ ESRCH, "ESRCH" },		{ EINTR, "EINTR" },
	{ EIO, "EIO" },			{ ENXIO, "ENXIO" },
	{ EBADF, "EBADF" },		{ EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" },		{ EACCES, "EACCES" },
	{ EFAULT, "EFAULT" },		{ EBUSY, "EBUSY" },
	{ EEXIST, "EEXIST" },		{ ENODEV, "ENODEV" },
	{ ENOTDIR, "ENOTDIR" },		{ EISDIR, "EISDIR" },
	{ EINVAL, "EINVAL" },		{ ENOTTY, "ENOTTY" },
	{ ENOSPC, "ENOSPC" },		{ EROFS, "EROFS" },
	{ ERANGE, "ERANGE" },		{ ENOSYS, "ENOSYS" },
	{ EOPNOTSUPP, "EOPNOTSUPP" },	{ EADDRINUSE, "EADDRINUSE" },
	{ EADDRNOTAVAIL, "EADDRNOTAVAIL" },
};

/* "EBUSY", or "errno 123" for one not in the table (buf is the space). */
static const char *errname(int err, char *buf, size_t len)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	snprintf(buf, len, "errno %d", err);
	return buf;
}

#define ERRNAME(err) errname((err), (char[24]){ 0 }, 24)

/* ------------------------------------------------------------------------ */
/* The invocation                                                            */

struct cli {
	const char *cmd;		/* subcommand name, for messages */
	const char *sysfs_root;		/* --sysfs-root, NULL: environment */
	struct apmatrix_ctx *ctx;
};

/* Every option of every subcommand; each subcommand accepts a subset. */
enum opt_id {
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_JSON = 'j',
	OPT_DRY_RUN = 'n',
	OPT_ADAPTERS = 'a',
	OPT_DOMAINS = 'd',
	OPT_CONTROL = 'c',
	OPT_PID = 'p',
	OPT_SYSFS_ROOT = 0x100,
	OPT_VM_FD,
	OPT_VALIDATE_ONLY,
	OPT_RESET,
};

struct args {
	bool json;
	bool dry_run;
	bool validate_only;
	bool reset;
	const char *adapters;
	const char *domains;
	const char *control;
	bool have_pid;
	pid_t pid;
	bool have_fd;
	int vm_fd;
	char *apqns;		/* positional APQN text joined with ',', or NULL */
};

struct command {
	const char *name;
	int (*run)(struct cli *cli, struct args *a);
	const char *usage;
	const char *summary;
	const char *opts;		/* getopt short options after ":" */
	const struct option *longopts;
	const char *help;		/* option descriptions */
	int max_args;			/* positional arguments allowed (-1: any) */
};

#define LOPT_HELP { "help", no_argument, NULL, OPT_HELP }
#define LOPT_SYSFS { "sysfs-root", required_argument, NULL, OPT_SYSFS_ROOT }
#define LOPT_VM { "vm-fd", required_argument, NULL, OPT_VM_FD }, \
		{ "pid", required_argument, NULL, OPT_PID }
#define LOPT_MATRIX { "adapters", required_argument, NULL, OPT_ADAPTERS }, \
		    { "domains", required_argument, NULL, OPT_DOMAINS }
#define LOPT_END { NULL, 0, NULL, 0 }

#define HELP_COMMON \
	"  -h, --help               show this help\n" \
	"      --sysfs-root DIR     the directory that stands for /sys\n" \
	"                           (default: $APMATRIX_SYSFS_ROOT, else /sys)\n"
#define HELP_VM \
	"      --vm-fd N            the KVM VM is this process's open fd N\n" \
	"  -p, --pid PID            the KVM VM of process PID (its only VM fd,\n" \
	"                           or fd N of it with --vm-fd N)\n"
#define HELP_MATRIX \
	"  -a, --adapters IDS       adapter IDs (\"05,07-09\", hex) or a mask\n" \
	"  -d, --domains IDS        usage domain IDs (\"0004,0006\", hex) or a mask\n"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

/* Said once when the AP configuration lock is held by someone else. */
static void lock_wait(struct apmatrix_ctx *ctx, const char *lock_file,
		      pid_t holder, unsigned int timeout_ms, void *data)
{
	(void)ctx;
	(void)data;
	if (holder)
		errmsg("waiting for the AP configuration lock %s, held by process %d (at most %u.%u s)",
		       lock_file, (int)holder, timeout_ms / 1000, timeout_ms % 1000 / 100);
	else
		errmsg("waiting for the AP configuration lock %s, being taken by someone (at most %u.%u s)",
		       lock_file, timeout_ms / 1000, timeout_ms % 1000 / 100);
	fflush(stderr);
}

/* Make the library context; RC_OK or an exit code (message printed). */
static int cli_ctx(struct cli *cli)
{
	int err;

	cli->ctx = apmatrix_ctx_new();
	if (!cli->ctx) {
		errmsg("cannot make a libapmatrix context: %s", strerror(errno));
		return RC_HOST;
	}
	apmatrix_ctx_set_lock_wait_fn(cli->ctx, lock_wait, NULL);
	if (cli->sysfs_root) {
		err = apmatrix_ctx_set_sysfs_root(cli->ctx, cli->sysfs_root);
		if (err < 0) {
			const char *m = apmatrix_ctx_last_error(cli->ctx);

			errmsg("--sysfs-root '%s': %s", cli->sysfs_root,
			       m && *m ? m : strerror(-err));
			return err == -ENOMEM ? RC_HOST : RC_USAGE;
		}
	}
	return RC_OK;
}

/* The context's last message, or a fallback built from err. */
static const char *ctx_msg(struct cli *cli, int err, char *buf, size_t len)
{
	const char *m = cli->ctx ? apmatrix_ctx_last_error(cli->ctx) : "";

	if (m && *m)
		return m;
	snprintf(buf, len, "%s (%s)", strerror(-err), ERRNAME(err));
	return buf;
}

#define CTX_MSG(cli, err) ctx_msg((cli), (err), (char[160]){ 0 }, 160)

/* Run a snprintf-like formatter into a fresh heap string. */
#define FORMAT_ALLOC(fn, obj, ...)					\
	({								\
		char _small[128], *_s = NULL;				\
		int _n = fn((obj), ##__VA_ARGS__, _small, sizeof(_small)); \
		if (_n >= 0 && (size_t)_n < sizeof(_small)) {		\
			_s = strdup(_small);				\
		} else if (_n >= 0) {					\
			_s = malloc((size_t)_n + 1);			\
			if (_s && fn((obj), ##__VA_ARGS__, _s,		\
				     (size_t)_n + 1) < 0) {		\
				free(_s);				\
				_s = NULL;				\
			}						\
		}							\
		_s;							\
	})

static bool parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!*s || *s == '+' || *s == '-' || *s == ' ')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static const char *holder_name(const struct apmatrix_queue *q)
{
	const char *drv;

	switch (apmatrix_queue_holder(q)) {
	case APMATRIX_HOLDER_HOST:
		return "host";
	case APMATRIX_HOLDER_FREE:
		return "free";
	case APMATRIX_HOLDER_APMATRIX:
		return "apmatrix";
	case APMATRIX_HOLDER_OTHER:
		drv = apmatrix_queue_driver(q);
		return drv ? drv : "other";
	}
	return "other";
}

/*
 * lszcrypt's STATUS of a card or a queue, from its own attributes:
 * deconfig wins, then checkstop, then online/offline, "-" if unknown.
 */
static const char *status_name(int config, int chkstop, int online)
{
	if (config == 0)
		return "deconfig";
	if (chkstop > 0)
		return "checkstop";
	if (online > 0)
		return "online";
	if (online == 0)
		return "offline";
	return "-";
}

static struct json_object *json_tristate(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v > 0);
}

static void json_add(struct json_object *obj, const char *key,
		     struct json_object *val)
{
	json_object_object_add(obj, key, val);
}

static int print_json(struct json_object *root)
{
	const char *s;

	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_SPACED |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s) {
		errmsg("cannot format JSON: out of memory");
		return RC_HOST;
	}
	puts(s);
	return RC_OK;
}

/* ------------------------------------------------------------------------ */
/* Matrices from the command line                                            */

/*
 * Build the matrix the arguments describe: APQN text or --adapters and
 * --domains for the usage part, --control-domains for the control part.
 * Returns RC_OK or RC_USAGE (message printed). *usage_given says whether a
 * usage part was named at all.
 */
static int args_matrix(struct cli *cli, const struct args *a,
		       struct apmatrix_matrix *m, bool *usage_given)
{
	struct apmatrix_ctx *ctx = cli->ctx;
	struct apmatrix_apqns *missing;
	int err;

	*usage_given = false;
	if (a->apqns && (a->adapters || a->domains)) {
		errmsg("%s: give APQNS or --adapters/--domains, not both",
		       cli->cmd);
		return RC_USAGE;
	}
	if (a->adapters && !a->domains) {
		errmsg("%s: --adapters needs --domains", cli->cmd);
		return RC_USAGE;
	}
	if (a->domains && !a->adapters) {
		errmsg("%s: --domains needs --adapters", cli->cmd);
		return RC_USAGE;
	}
	if (a->apqns) {
		missing = apmatrix_apqns_new();
		if (!missing) {
			errmsg("out of memory");
			return RC_HOST;
		}
		err = apmatrix_matrix_parse_apqns(ctx, m, a->apqns, missing);
		apmatrix_apqns_free(missing);
		if (err < 0) {
			errmsg("%s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
		*usage_given = true;
	} else if (a->adapters) {
		err = apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS,
						a->adapters);
		if (err < 0) {
			errmsg("--adapters: %s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
		err = apmatrix_matrix_parse_ids(ctx, m, APMATRIX_DOMAINS,
						a->domains);
		if (err < 0) {
			errmsg("--domains: %s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
		*usage_given = true;
	}
	if (a->control) {
		err = apmatrix_matrix_parse_ids(ctx, m,
						APMATRIX_CONTROL_DOMAINS,
						a->control);
		if (err < 0) {
			errmsg("--control-domains: %s", CTX_MSG(cli, err));
			return RC_USAGE;
		}
	}
	return RC_OK;
}

/* ------------------------------------------------------------------------ */
/* list                                                                      */

struct row {
	char id[8];
	const char *type;
	const char *status;
	const char *driver;
	const char *holder;
};

static void print_row(const struct row *r, const int w[5])
{
	printf("%-*s %-*s %-*s %-*s %s\n", w[0], r->id, w[1], r->type,
	       w[2], r->status, w[3], r->driver, r->holder);
}

static bool queue_selected(const struct apmatrix_apqns *filter,
			   const struct apmatrix_queue *q)
{
	return !filter || apmatrix_apqns_contains(filter,
						  apmatrix_queue_apid(q),
						  apmatrix_queue_apqi(q));
}

static bool card_selected(const struct apmatrix_apqns *filter,
			  const struct apmatrix_card *card)
{
	unsigned int i, n = apmatrix_card_num_queues(card);

	if (!filter)
		return true;
	for (i = 0; i < n; i++)
		if (queue_selected(filter, apmatrix_card_queue(card, i)))
			return true;
	return false;
}

static int list_human(const struct apmatrix_host *host,
		      const struct apmatrix_apqns *filter, const char *apmask,
		      const char *aqmask)
{
	static const char *const hdr[5] = { "CARD.DOM", "TYPE", "STATUS",
					    "DRIVER", "HOLDER" };
	unsigned int ncards = apmatrix_host_num_cards(host), i, j, nrows = 0;
	struct row *rows;
	int w[5], k, total;

	/* Each card and each of its queues gives one row. */
	for (i = 0; i < ncards; i++)
		nrows += 1 + apmatrix_card_num_queues(apmatrix_host_card(host, i));
	rows = calloc(nrows ? nrows : 1, sizeof(*rows));
	if (!rows) {
		errmsg("out of memory");
		return RC_HOST;
	}
	nrows = 0;
	for (i = 0; i < ncards; i++) {
		const struct apmatrix_card *c = apmatrix_host_card(host, i);
		const char *type = apmatrix_card_type(c);
		const char *cdrv = apmatrix_card_driver(c);

		if (!card_selected(filter, c))
			continue;
		snprintf(rows[nrows].id, sizeof(rows[nrows].id), "%02x",
			 apmatrix_card_id(c));
		rows[nrows].type = type ? type : "-";
		rows[nrows].status = status_name(apmatrix_card_config(c),
						 apmatrix_card_chkstop(c),
						 apmatrix_card_online(c));
		rows[nrows].driver = cdrv ? cdrv : "-no-driver-";
		rows[nrows].holder = "-";
		nrows++;
		for (j = 0; j < apmatrix_card_num_queues(c); j++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(c, j);
			const char *drv = apmatrix_queue_driver(q);

			if (!queue_selected(filter, q))
				continue;
			snprintf(rows[nrows].id, sizeof(rows[nrows].id),
				 "%02x.%04x", apmatrix_queue_apid(q),
				 apmatrix_queue_apqi(q));
			rows[nrows].type = type ? type : "-";
			rows[nrows].status = status_name(apmatrix_queue_config(q),
						apmatrix_queue_chkstop(q),
						apmatrix_queue_online(q));
			rows[nrows].driver = drv ? drv : "-no-driver-";
			rows[nrows].holder = holder_name(q);
			nrows++;
		}
	}

	printf("ap_max_adapter_id=0x%02x\n", apmatrix_host_max_adapter_id(host));
	printf("ap_max_domain_id=0x%02x\n", apmatrix_host_max_domain_id(host));
	printf("apmask=%s\n", apmask);
	printf("aqmask=%s\n", aqmask);
	putchar('\n');

	for (k = 0; k < 5; k++)
		w[k] = (int)strlen(hdr[k]);
	for (i = 0; i < nrows; i++) {
		const char *cells[5] = { rows[i].id, rows[i].type,
					 rows[i].status, rows[i].driver,
					 rows[i].holder };

		for (k = 0; k < 5; k++)
			if ((int)strlen(cells[k]) > w[k])
				w[k] = (int)strlen(cells[k]);
	}
	printf("%-*s %-*s %-*s %-*s %s\n", w[0], hdr[0], w[1], hdr[1],
	       w[2], hdr[2], w[3], hdr[3], hdr[4]);
	total = w[0] + w[1] + w[2] + w[3] + w[4] + 4;
	for (k = 0; k < total; k++)
		putchar('-');
	putchar('\n');
	for (i = 0; i < nrows; i++)
		print_row(&rows[i], w);
	free(rows);
	return RC_OK;
}

static int list_json(const struct apmatrix_host *host,
		     const struct apmatrix_apqns *filter, const char *apmask,
		     const char *aqmask)
{
	struct json_object *root, *cards;
	unsigned int i, j, ncards = apmatrix_host_num_cards(host);
	char buf[16];
	int rc;

	root = json_object_new_object();
	cards = json_object_new_array();
	if (!root || !cards) {
		json_object_put(root);
		json_object_put(cards);
		errmsg("out of memory");
		return RC_HOST;
	}
	json_add(root, "format_version", json_object_new_int(1));
	json_add(root, "max_adapter_id",
		 json_object_new_int((int)apmatrix_host_max_adapter_id(host)));
	json_add(root, "max_domain_id",
		 json_object_new_int((int)apmatrix_host_max_domain_id(host)));
	json_add(root, "apmask", json_object_new_string(apmask));
	json_add(root, "aqmask", json_object_new_string(aqmask));
	for (i = 0; i < ncards; i++) {
		const struct apmatrix_card *c = apmatrix_host_card(host, i);
		const char *type = apmatrix_card_type(c);
		const char *cdrv = apmatrix_card_driver(c);
		struct json_object *jc, *qs;

		if (!card_selected(filter, c))
			continue;
		jc = json_object_new_object();
		qs = json_object_new_array();
		snprintf(buf, sizeof(buf), "%02x", apmatrix_card_id(c));
		json_add(jc, "id", json_object_new_string(buf));
		json_add(jc, "type", type ? json_object_new_string(type) : NULL);
		json_add(jc, "driver",
			 cdrv ? json_object_new_string(cdrv) : NULL);
		json_add(jc, "online", json_tristate(apmatrix_card_online(c)));
		json_add(jc, "config", json_tristate(apmatrix_card_config(c)));
		json_add(jc, "chkstop", json_tristate(apmatrix_card_chkstop(c)));
		for (j = 0; j < apmatrix_card_num_queues(c); j++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(c, j);
			const char *drv = apmatrix_queue_driver(q);
			struct json_object *jq;

			if (!queue_selected(filter, q))
				continue;
			jq = json_object_new_object();
			snprintf(buf, sizeof(buf), "%02x.%04x",
				 apmatrix_queue_apid(q), apmatrix_queue_apqi(q));
			json_add(jq, "apqn", json_object_new_string(buf));
			json_add(jq, "online",
				 json_tristate(apmatrix_queue_online(q)));
			json_add(jq, "config",
				 json_tristate(apmatrix_queue_config(q)));
			json_add(jq, "chkstop",
				 json_tristate(apmatrix_queue_chkstop(q)));
			json_add(jq, "driver",
				 drv ? json_object_new_string(drv) : NULL);
			json_add(jq, "holder",
				 json_object_new_string(holder_name(q)));
			json_object_array_add(qs, jq);
		}
		json_add(jc, "queues", qs);
		json_object_array_add(cards, jc);
	}
	json_add(root, "adapters", cards);
	rc = print_json(root);
	json_object_put(root);
	return rc;
}

static int cmd_list(struct cli *cli, struct args *a)
{
	struct apmatrix_apqns *filter = NULL;
	struct apmatrix_matrix *masks = NULL;
	struct apmatrix_host *host = NULL;
	char apmask[80], aqmask[80];
	unsigned int i, n, found = 0;
	int err, rc = RC_HOST;

	if (a->apqns) {
		filter = apmatrix_apqns_new();
		if (!filter) {
			errmsg("out of memory");
			return RC_HOST;
		}
		err = apmatrix_apqns_parse(cli->ctx, filter, a->apqns);
		if (err < 0) {
			errmsg("%s", CTX_MSG(cli, err));
			rc = RC_USAGE;
			goto out;
		}
	}
	err = apmatrix_host_read(cli->ctx, &host);
	if (err < 0) {
		errmsg("%s", CTX_MSG(cli, err));
		goto out;
	}
	if (filter) {
		n = apmatrix_apqns_count(filter);
		for (i = 0; i < n; i++) {
			unsigned int apid, apqi;

			if (apmatrix_apqns_get(filter, i, &apid, &apqi) == 0 &&
			    apmatrix_host_queue(host, apid, apqi))
				found++;
		}
		if (!found) {
			errmsg("%s: no such queue on this host", a->apqns);
			goto out;
		}
	}
	masks = apmatrix_matrix_new();
	if (!masks) {
		errmsg("out of memory");
		goto out;
	}
	err = apmatrix_host_get_masks(host, APMATRIX_HOST_MASKS, masks);
	if (err >= 0)
		err = apmatrix_matrix_format_mask(masks, APMATRIX_ADAPTERS,
						  apmask, sizeof(apmask));
	if (err >= 0)
		err = apmatrix_matrix_format_mask(masks, APMATRIX_DOMAINS,
						  aqmask, sizeof(aqmask));
	if (err < 0) {
		errmsg("cannot format the host's masks: %s (%s)",
		       strerror(-err), ERRNAME(err));
		goto out;
	}
	if (a->json)
		rc = list_json(host, filter, apmask, aqmask);
	else
		rc = list_human(host, filter, apmask, aqmask);
out:
	apmatrix_matrix_free(masks);
	apmatrix_host_free(host);
	apmatrix_apqns_free(filter);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* reserve, release                                                          */

static int print_mask_change(const char *name, const struct apmatrix_matrix *before,
			     const struct apmatrix_matrix *after,
			     enum apmatrix_part part)
{
	char b[80], n[80];

	if (apmatrix_matrix_format_mask(before, part, b, sizeof(b)) < 0 ||
	    apmatrix_matrix_format_mask(after, part, n, sizeof(n)) < 0)
		return -EINVAL;
	if (strcmp(b, n))
		printf("%s: %s -> %s\n", name, b, n);
	else
		printf("%s: %s (unchanged)\n", name, b);
	return 0;
}

/* {"before": "0x...", "after": "0x..."} of one mask, NULL on error. */
static struct json_object *json_mask_change(const struct apmatrix_matrix *before,
					    const struct apmatrix_matrix *after,
					    enum apmatrix_part part)
{
	struct json_object *o;
	char b[80], n[80];

	if (apmatrix_matrix_format_mask(before, part, b, sizeof(b)) < 0 ||
	    apmatrix_matrix_format_mask(after, part, n, sizeof(n)) < 0)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	json_add(o, "before", json_object_new_string(b));
	json_add(o, "after", json_object_new_string(n));
	return o;
}

/*
 * reserve/release --json: the plan and whether it was written, one
 * document (format in the man page). Printed after the write, also when
 * it failed ("applied": false).
 */
static int plan_json(const struct apmatrix_plan *plan, bool applied)
{
	struct json_object *root, *ap = NULL, *aq = NULL, *coll;
	struct apmatrix_matrix *before, *after;
	const struct apmatrix_apqns *c = apmatrix_plan_collateral(plan);
	unsigned int i, n = c ? apmatrix_apqns_count(c) : 0, apid, apqi;
	char buf[16];
	int rc = RC_HOST;

	before = apmatrix_matrix_new();
	after = apmatrix_matrix_new();
	root = json_object_new_object();
	coll = json_object_new_array();
	if (!before || !after || !root || !coll ||
	    apmatrix_plan_get_masks(plan, false, before) < 0 ||
	    apmatrix_plan_get_masks(plan, true, after) < 0 ||
	    !(ap = json_mask_change(before, after, APMATRIX_ADAPTERS)) ||
	    !(aq = json_mask_change(before, after, APMATRIX_DOMAINS))) {
		errmsg("cannot read the plan's masks");
		json_object_put(ap);
		json_object_put(coll);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (apmatrix_apqns_get(c, i, &apid, &apqi) < 0)
			break;
		snprintf(buf, sizeof(buf), "%02x.%04x", apid, apqi);
		json_object_array_add(coll, json_object_new_string(buf));
	}
	json_add(root, "format_version", json_object_new_int(1));
	json_add(root, "apmask", ap);
	json_add(root, "aqmask", aq);
	json_add(root, "collateral", coll);
	json_add(root, "applied", json_object_new_boolean(applied));
	rc = print_json(root);
out:
	json_object_put(root);
	apmatrix_matrix_free(after);
	apmatrix_matrix_free(before);
	return rc;
}

static int reserve_release(struct cli *cli, struct args *a, bool reserve)
{
	struct apmatrix_matrix *want, *before = NULL, *after = NULL;
	const struct apmatrix_apqns *coll;
	struct apmatrix_host *host = NULL;
	struct apmatrix_plan *plan = NULL;
	bool usage_given;
	char *text;
	int err, rc;

	if (a->control) {
		errmsg("%s: --control-domains has no meaning here: control domains are not reserved",
		       cli->cmd);
		return RC_USAGE;
	}
	if (!a->apqns && !a->adapters && !a->domains) {
		errmsg("%s: no APQNs given (APQNS or --adapters/--domains)",
		       cli->cmd);
		return RC_USAGE;
	}
	want = apmatrix_matrix_new();
	if (!want) {
		errmsg("out of memory");
		return RC_HOST;
	}
	rc = args_matrix(cli, a, want, &usage_given);
	if (rc)
		goto out;
	if (apmatrix_matrix_count(want, APMATRIX_ADAPTERS) == 0 ||
	    apmatrix_matrix_count(want, APMATRIX_DOMAINS) == 0) {
		errmsg("%s: no APQNs given (APQNS or --adapters/--domains)",
		       cli->cmd);
		rc = RC_USAGE;
		goto out;
	}

	rc = RC_HOST;
	err = apmatrix_host_read(cli->ctx, &host);
	if (err < 0) {
		errmsg("%s", CTX_MSG(cli, err));
		goto out;
	}
	if (reserve)
		err = apmatrix_plan_reserve(cli->ctx, host, want, &plan);
	else
		err = apmatrix_plan_release(cli->ctx, host, want, &plan);
	if (err < 0) {
		errmsg("%s", CTX_MSG(cli, err));
		rc = (err == -EINVAL || err == -ERANGE) ? RC_USAGE : RC_HOST;
		goto out;
	}

	if (a->json && (apmatrix_plan_is_noop(plan) || a->dry_run)) {
		rc = plan_json(plan, false);
		goto out;
	}
	if (a->json) {
		err = apmatrix_plan_apply(cli->ctx, plan);
		rc = plan_json(plan, err == 0);
		if (err == 0)
			goto out;
		/* the document first, then the error */
		fflush(stdout);
		goto apply_failed;
	}
	if (apmatrix_plan_is_noop(plan)) {
		printf("nothing to do: %s\n", reserve ?
		       "the host's default drivers hold none of these queues" :
		       "the host's default drivers already hold these queues");
		rc = RC_OK;
		goto out;
	}
	before = apmatrix_matrix_new();
	after = apmatrix_matrix_new();
	if (!before || !after ||
	    apmatrix_plan_get_masks(plan, false, before) < 0 ||
	    apmatrix_plan_get_masks(plan, true, after) < 0 ||
	    print_mask_change("apmask", before, after, APMATRIX_ADAPTERS) < 0 ||
	    print_mask_change("aqmask", before, after, APMATRIX_DOMAINS) < 0) {
		errmsg("cannot read the plan's masks");
		goto out;
	}
	coll = apmatrix_plan_collateral(plan);
	if (coll && apmatrix_apqns_count(coll)) {
		text = FORMAT_ALLOC(apmatrix_apqns_format, coll);
		if (!text) {
			errmsg("out of memory");
			goto out;
		}
		printf("%s: %s\n", reserve ? "also takes from the host" :
		       "also gives back to the host", text);
		free(text);
	} else {
		printf("no other queue is affected\n");
	}
	if (a->dry_run) {
		printf("dry run: nothing written\n");
		rc = RC_OK;
		goto out;
	}
	/* Our own lines first, should apply fail after a partial write. */
	fflush(stdout);
	err = apmatrix_plan_apply(cli->ctx, plan);
	if (err == 0) {
		rc = RC_OK;
		goto out;
	}
apply_failed:
	if (err == -EBUSY && !reserve) {
		/* The AP bus's veto: an APQN going back is assigned to a guest. */
		errmsg("%s: a guest holds a queue this would give back to the host (clear or change that VM first)",
		       CTX_MSG(cli, err));
		rc = RC_RETRY;
		goto out;
	}
	errmsg("%s", CTX_MSG(cli, err));
	rc = (err == -EBUSY || err == -EAGAIN) ? RC_RETRY : RC_HOST;
out:
	apmatrix_matrix_free(after);
	apmatrix_matrix_free(before);
	apmatrix_plan_free(plan);
	apmatrix_host_free(host);
	apmatrix_matrix_free(want);
	return rc;
}

static int cmd_reserve(struct cli *cli, struct args *a)
{
	return reserve_release(cli, a, true);
}

static int cmd_release(struct cli *cli, struct args *a)
{
	return reserve_release(cli, a, false);
}

/* ------------------------------------------------------------------------ */
/* VMs                                                                       */

static int vm_exit_code(int err)
{
	switch (-err) {
	case ENXIO:
	case EOPNOTSUPP:
	case ENOSYS:
		return RC_UNSUPPORTED;
	case ENODEV:
	case EADDRNOTAVAIL:
	case EADDRINUSE:
	case EBUSY:
	case EINVAL:
		return RC_REFUSED;
	case ESRCH:
	case ENOENT:
	case EPERM:
	case EACCES:
	case EEXIST:
	case EBADF:
	case ENOTTY:		/* the fd is not a KVM VM */
		return RC_NO_VM;
	case EAGAIN:
		return RC_RETRY;
	default:
		return RC_HOST;
	}
}

/* One line for an error of a VM ioctl (what names the operation). */
static void vm_errmsg(const char *what, int err)
{
	const char *why;

	switch (-err) {
	case ENXIO:
		why = "the kernel does not offer KVM_S390_VM_CRYPTO_SET_AP_MATRIX on this VM";
		break;
	case EOPNOTSUPP:
		why = "the host has no AP instructions or no apmatrix AP driver is registered";
		break;
	case ENOTTY:
		why = "not a KVM VM file descriptor";
		break;
	case EINVAL:
		why = "the kernel refused the request: unknown flag bits or non-zero reserved fields";
		break;
	case ENODEV:
		why = "an ID is beyond the host's AP configuration or the VM's CRYCB format";
		break;
	case EADDRNOTAVAIL:
		why = "an APQN is not available to apmatrix (still the host's, or not bound to the apmatrix driver)";
		break;
	case EADDRINUSE:
		why = "an APQN is held by another VM";
		break;
	case EBUSY:
		why = "an APQN's reset after leaving another VM has not finished or failed";
		break;
	case EPERM:
	case EACCES:
		why = "not permitted";
		break;
	default:
		why = strerror(-err);
		break;
	}
	errmsg("%s: %s (%s)", what, why, ERRNAME(err));
}

static int open_vm(struct cli *cli, const struct args *a,
		   struct apmatrix_vm **vm)
{
	char what[64];
	int err;

	if (a->have_pid) {
		err = apmatrix_vm_open_pid(cli->ctx, a->pid,
					   a->have_fd ? a->vm_fd : -1, vm);
		snprintf(what, sizeof(what), "--pid %ld", (long)a->pid);
	} else if (a->have_fd) {
		err = apmatrix_vm_open_fd(cli->ctx, a->vm_fd, vm);
		snprintf(what, sizeof(what), "--vm-fd %d", a->vm_fd);
	} else {
		errmsg("%s: no VM given: use --vm-fd N or --pid PID", cli->cmd);
		return RC_USAGE;
	}
	if (err < 0) {
		const char *m = apmatrix_ctx_last_error(cli->ctx);

		if (m && *m && err == -EEXIST && a->have_pid)
			errmsg("%s with --vm-fd", m);	/* "...: say which one" */
		else if (m && *m)
			errmsg("%s", m);
		else
			errmsg("%s: %s (%s)", what, strerror(-err), ERRNAME(err));
		return err == -ENOMEM ? RC_HOST : RC_NO_VM;
	}
	return RC_OK;
}

static int cmd_set(struct cli *cli, struct args *a)
{
	struct apmatrix_matrix *m, *refused_ids = NULL;
	struct apmatrix_apqns *refused = NULL;
	struct apmatrix_vm *vm = NULL;
	unsigned int flags = 0;
	bool usage_given;
	int err, set_err, rc;

	if (!a->apqns && !a->adapters && !a->domains && !a->control) {
		errmsg("set: no matrix given: APQNS, --adapters/--domains or --control-domains (to empty the VM's matrix, use clear)");
		return RC_USAGE;
	}
	m = apmatrix_matrix_new();
	if (!m) {
		errmsg("out of memory");
		return RC_HOST;
	}
	rc = args_matrix(cli, a, m, &usage_given);
	if (rc)
		goto out;
	rc = open_vm(cli, a, &vm);
	if (rc)
		goto out;
	if (a->validate_only)
		flags |= APMATRIX_SET_VALIDATE_ONLY;
	if (a->reset)
		flags |= APMATRIX_SET_RESET;
	err = apmatrix_vm_set(vm, m, flags);
	if (err == 0) {
		if (a->validate_only)
			printf("valid: the kernel accepts this matrix; nothing changed\n");
		rc = RC_OK;
		goto out;
	}
	rc = vm_exit_code(err);
	set_err = err;
	if (err != -ENODEV && err != -EADDRNOTAVAIL && err != -EADDRINUSE &&
	    err != -EBUSY) {
		vm_errmsg("set", err);
		goto out;
	}
	/* Name the refused APQNs or IDs: the payload cannot say which. */
	refused = apmatrix_apqns_new();
	refused_ids = apmatrix_matrix_new();
	if (!refused || !refused_ids) {
		vm_errmsg("set", err);
		goto out;
	}
	err = apmatrix_vm_explain(vm, m, err, refused, refused_ids);
	if (err == 0) {
		errmsg("%s", apmatrix_ctx_last_error(cli->ctx));
	} else if (err == -EAGAIN) {
		const char *msg = apmatrix_ctx_last_error(cli->ctx);

		if (msg && *msg)
			errmsg("%s", msg);
		else
			errmsg("set: the kernel refused the matrix but no APQN is refused now: the state changed, retry (EAGAIN)");
		rc = RC_RETRY;
	} else {
		/* Probing failed: still say which rule refused. */
		vm_errmsg("set", set_err);
	}
out:
	apmatrix_matrix_free(refused_ids);
	apmatrix_apqns_free(refused);
	apmatrix_vm_free(vm);
	apmatrix_matrix_free(m);
	return rc;
}

static json_object *json_ids(const struct apmatrix_matrix *m,
			     enum apmatrix_part part, const char *fmt)
{
	struct json_object *arr = json_object_new_array();
	char buf[8];
	unsigned int id;

	for (id = 0; id <= APMATRIX_MAX_ID; id++) {
		if (!apmatrix_matrix_test(m, part, id))
			continue;
		snprintf(buf, sizeof(buf), fmt, id);
		json_object_array_add(arr, json_object_new_string(buf));
	}
	return arr;
}

static int get_json(const struct apmatrix_matrix *m)
{
	static const struct {
		const char *ids, *mask, *fmt;
		enum apmatrix_part part;
	} parts[] = {
		{ "adapters", "apm", "%02x", APMATRIX_ADAPTERS },
		{ "domains", "aqm", "%04x", APMATRIX_DOMAINS },
		{ "control_domains", "adm", "%04x", APMATRIX_CONTROL_DOMAINS },
	};
	struct json_object *root = json_object_new_object(), *apqns;
	unsigned int a, d, i;
	char buf[80];
	int rc;

	if (!root) {
		errmsg("out of memory");
		return RC_HOST;
	}
	json_add(root, "format_version", json_object_new_int(1));
	apqns = json_object_new_array();
	for (a = 0; a <= APMATRIX_MAX_ID; a++) {
		if (!apmatrix_matrix_test(m, APMATRIX_ADAPTERS, a))
			continue;
		for (d = 0; d <= APMATRIX_MAX_ID; d++) {
			if (!apmatrix_matrix_test(m, APMATRIX_DOMAINS, d))
				continue;
			snprintf(buf, sizeof(buf), "%02x.%04x", a, d);
			json_object_array_add(apqns,
					      json_object_new_string(buf));
		}
	}
	json_add(root, "apqns", apqns);
	for (i = 0; i < 3; i++)
		json_add(root, parts[i].ids,
			 json_ids(m, parts[i].part, parts[i].fmt));
	for (i = 0; i < 3; i++) {
		if (apmatrix_matrix_format_mask(m, parts[i].part, buf,
						sizeof(buf)) < 0)
			buf[0] = '\0';
		json_add(root, parts[i].mask, json_object_new_string(buf));
	}
	rc = print_json(root);
	json_object_put(root);
	return rc;
}

static int get_human(const struct apmatrix_matrix *m)
{
	static const struct {
		const char *label;
		enum apmatrix_part part;
	} parts[] = {
		{ "adapters", APMATRIX_ADAPTERS },
		{ "domains", APMATRIX_DOMAINS },
		{ "control domains", APMATRIX_CONTROL_DOMAINS },
	};
	char *s;
	unsigned int i;

	s = FORMAT_ALLOC(apmatrix_matrix_format_apqns, m);
	if (!s)
		goto nomem;
	printf("apqns: %s\n", *s ? s : "none");
	free(s);
	for (i = 0; i < 3; i++) {
		s = FORMAT_ALLOC(apmatrix_matrix_format_ids, m, parts[i].part);
		if (!s)
			goto nomem;
		printf("%s: %s\n", parts[i].label, *s ? s : "none");
		free(s);
	}
	return RC_OK;
nomem:
	errmsg("cannot format the matrix: out of memory");
	return RC_HOST;
}

static int cmd_get(struct cli *cli, struct args *a)
{
	struct apmatrix_matrix *m;
	struct apmatrix_vm *vm = NULL;
	int err, rc;

	m = apmatrix_matrix_new();
	if (!m) {
		errmsg("out of memory");
		return RC_HOST;
	}
	rc = open_vm(cli, a, &vm);
	if (rc)
		goto out;
	err = apmatrix_vm_get(vm, m);
	if (err < 0) {
		vm_errmsg("get", err);
		rc = vm_exit_code(err);
		goto out;
	}
	rc = a->json ? get_json(m) : get_human(m);
out:
	apmatrix_vm_free(vm);
	apmatrix_matrix_free(m);
	return rc;
}

static int cmd_clear(struct cli *cli, struct args *a)
{
	struct apmatrix_vm *vm = NULL;
	int err, rc;

	rc = open_vm(cli, a, &vm);
	if (rc)
		return rc;
	err = apmatrix_vm_clear(vm);
	if (err < 0) {
		vm_errmsg("clear", err);
		rc = vm_exit_code(err);
	}
	apmatrix_vm_free(vm);
	return rc;
}

static int cmd_probe(struct cli *cli, struct args *a)
{
	struct apmatrix_vm *vm = NULL;
	int err, rc;

	rc = open_vm(cli, a, &vm);
	if (rc)
		return rc;
	err = apmatrix_vm_probe(vm);
	if (err == 0) {
		printf("KVM_S390_VM_CRYPTO_SET_AP_MATRIX: available\n");
	} else if (err == -ENXIO) {
		printf("KVM_S390_VM_CRYPTO_SET_AP_MATRIX: not available\n");
		rc = RC_UNSUPPORTED;
	} else {
		vm_errmsg("probe", err);
		rc = vm_exit_code(err);
	}
	apmatrix_vm_free(vm);
	return rc;
}

static int cmd_enable_apie(struct cli *cli, struct args *a)
{
	struct apmatrix_vm *vm = NULL;
	int err, rc;

	rc = open_vm(cli, a, &vm);
	if (rc)
		return rc;
	err = apmatrix_vm_enable_apie(vm);
	if (err < 0) {
		if (err == -ENXIO)
			errmsg("enable-apie: the kernel or host does not offer AP interpretation for this VM (ENXIO)");
		else
			vm_errmsg("enable-apie", err);
		rc = vm_exit_code(err);
	}
	apmatrix_vm_free(vm);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Command table                                                             */

static const struct option list_lopts[] = {
	LOPT_HELP, LOPT_SYSFS, { "json", no_argument, NULL, OPT_JSON }, LOPT_END
};
static const struct option resrel_lopts[] = {
	LOPT_HELP, LOPT_SYSFS, LOPT_MATRIX,
	{ "control-domains", required_argument, NULL, OPT_CONTROL },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "json", no_argument, NULL, OPT_JSON }, LOPT_END
};
static const struct option set_lopts[] = {
	LOPT_HELP, LOPT_SYSFS, LOPT_VM, LOPT_MATRIX,
	{ "control-domains", required_argument, NULL, OPT_CONTROL },
	{ "validate-only", no_argument, NULL, OPT_VALIDATE_ONLY },
	{ "reset", no_argument, NULL, OPT_RESET }, LOPT_END
};
static const struct option get_lopts[] = {
	LOPT_HELP, LOPT_SYSFS, LOPT_VM,
	{ "json", no_argument, NULL, OPT_JSON }, LOPT_END
};
static const struct option vm_lopts[] = {
	LOPT_HELP, LOPT_SYSFS, LOPT_VM, LOPT_END
};

static const struct command commands[] = {
	{
		.name = "list", .run = cmd_list,
		.usage = "list [--json] [APQNS...]",
		.summary = "show the host's AP adapters and queues and who holds each queue",
		.opts = "hj", .longopts = list_lopts, .max_args = -1,
		.help = "  -j, --json               print JSON (format in apmatrix-ctl(8))\n"
			HELP_COMMON,
	},
	{
		.name = "reserve", .run = cmd_reserve,
		.usage = "reserve [--dry-run] [--json] APQNS... | reserve [--dry-run] [--json] --adapters IDS --domains IDS",
		.summary = "take queues away from the host's default drivers (apmask/aqmask)",
		.opts = "hjna:d:c:", .longopts = resrel_lopts, .max_args = -1,
		.help = "  -n, --dry-run            print the plan, write nothing\n"
			"  -j, --json               print the plan and its outcome as JSON\n"
			"                           (format in apmatrix-ctl(8))\n"
			HELP_MATRIX HELP_COMMON,
	},
	{
		.name = "release", .run = cmd_release,
		.usage = "release [--dry-run] [--json] APQNS... | release [--dry-run] [--json] --adapters IDS --domains IDS",
		.summary = "give queues back to the host's default drivers",
		.opts = "hjna:d:c:", .longopts = resrel_lopts, .max_args = -1,
		.help = "  -n, --dry-run            print the plan, write nothing\n"
			"  -j, --json               print the plan and its outcome as JSON\n"
			"                           (format in apmatrix-ctl(8))\n"
			HELP_MATRIX HELP_COMMON,
	},
	{
		.name = "set", .run = cmd_set,
		.usage = "set (--vm-fd N | --pid PID [--vm-fd N]) [--validate-only] [--reset] [APQNS... | --adapters IDS --domains IDS] [--control-domains IDS]",
		.summary = "replace a VM's whole AP matrix",
		.opts = "hp:a:d:c:", .longopts = set_lopts, .max_args = -1,
		.help = "      --validate-only      let the kernel check the matrix, change nothing\n"
			"      --reset              zeroize every queue of the new matrix\n"
			HELP_MATRIX
			"  -c, --control-domains IDS  control domain IDs or a mask\n"
			HELP_VM HELP_COMMON,
	},
	{
		.name = "get", .run = cmd_get,
		.usage = "get (--vm-fd N | --pid PID [--vm-fd N]) [--json]",
		.summary = "show a VM's AP matrix",
		.opts = "hjp:", .longopts = get_lopts, .max_args = 0,
		.help = "  -j, --json               print JSON (format in apmatrix-ctl(8))\n"
			HELP_VM HELP_COMMON,
	},
	{
		.name = "clear", .run = cmd_clear,
		.usage = "clear (--vm-fd N | --pid PID [--vm-fd N])",
		.summary = "take every queue away from a VM (an empty matrix)",
		.opts = "hp:", .longopts = vm_lopts, .max_args = 0,
		.help = HELP_VM HELP_COMMON,
	},
	{
		.name = "probe", .run = cmd_probe,
		.usage = "probe (--vm-fd N | --pid PID [--vm-fd N])",
		.summary = "say whether the kernel offers the AP matrix attribute for a VM",
		.opts = "hp:", .longopts = vm_lopts, .max_args = 0,
		.help = HELP_VM HELP_COMMON,
	},
	{
		.name = "enable-apie", .run = cmd_enable_apie,
		.usage = "enable-apie (--vm-fd N | --pid PID [--vm-fd N])",
		.summary = "turn on AP interpretation for a VM (KVM_S390_VM_CRYPTO_ENABLE_APIE)",
		.opts = "hp:", .longopts = vm_lopts, .max_args = 0,
		.help = HELP_VM HELP_COMMON,
	},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_exit_codes(void)
{
	size_t i;

	printf("\nExit codes:\n");
	for (i = 0; i < sizeof(exit_codes) / sizeof(exit_codes[0]); i++)
		printf("  %d  %s\n", exit_codes[i].code, exit_codes[i].meaning);
}

static void global_help(void)
{
	size_t i;

	printf("Usage: " PROG " [--sysfs-root DIR] COMMAND [OPTIONS] [ARGS]\n"
	       "       " PROG " COMMAND --help\n\n"
	       "Give s390 AP crypto queues to KVM guests.\n\nCommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		printf("  %-12s %s\n", commands[i].name, commands[i].summary);
	for (i = 0; i < ctl_ext_ncommands; i++)
		printf("  %-12s %s\n", ctl_ext_commands[i].name,
		       ctl_ext_commands[i].summary);
	printf("\nOptions:\n"
	       "  -h, --help               show this help\n"
	       "  -V, --version            show the version\n"
	       "      --sysfs-root DIR     the directory that stands for /sys\n"
	       "                           (default: $APMATRIX_SYSFS_ROOT, else /sys)\n\n"
	       "APQNs are written as lszcrypt does, AA.DDDD in hex: 05.0004,\n"
	       "05.0004,05.0005, 05-07.0004-0007. ID lists: 05,07-09.\n");
	print_exit_codes();
}

static void command_help(const struct command *c)
{
	printf("Usage: " PROG " %s\n\n%c%s.\n\nOptions:\n%s", c->usage,
	       c->summary[0] - 'a' + 'A', c->summary + 1, c->help);
	print_exit_codes();
}

/* Report a getopt error: ret is ':' (missing argument) or '?'. */
static void option_error(const char *cmd, int ret, char **argv)
{
	const char *where = cmd ? cmd : "";
	const char *sep = cmd ? ": " : "";
	const char *opt = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, 0 };

	/* A short option inside a cluster: name just that letter. */
	if (optopt && optopt < 0x100 && strncmp(opt, "--", 2) != 0)
		opt = shortopt;
	if (ret == ':')
		errmsg("%s%soption '%s' needs an argument", where, sep, opt);
	else
		errmsg("%s%sunknown option '%s' (see '" PROG "%s%s --help')",
		       where, sep, opt, cmd ? " " : "", where);
}

static int set_once(const char **slot, const char *cmd, const char *name)
{
	if (*slot) {
		errmsg("%s: %s given twice", cmd, name);
		return -1;
	}
	*slot = optarg;
	return 0;
}

static int parse_command(struct cli *cli, const struct command *c, int argc,
			 char **argv, struct args *a)
{
	char optstring[32];
	size_t len = 0;
	long v;
	int opt, i;

	/* Options may follow the APQNs: "set --pid 7 05.0004 --reset". */
	snprintf(optstring, sizeof(optstring), ":%s", c->opts);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, optstring, c->longopts,
				  NULL)) != -1) {
		switch (opt) {
		case OPT_HELP:
			command_help(c);
			return -1 - RC_OK;
		case OPT_SYSFS_ROOT:
			cli->sysfs_root = optarg;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_DRY_RUN:
			a->dry_run = true;
			break;
		case OPT_VALIDATE_ONLY:
			a->validate_only = true;
			break;
		case OPT_RESET:
			a->reset = true;
			break;
		case OPT_ADAPTERS:
			if (set_once(&a->adapters, c->name, "--adapters"))
				return -1 - RC_USAGE;
			break;
		case OPT_DOMAINS:
			if (set_once(&a->domains, c->name, "--domains"))
				return -1 - RC_USAGE;
			break;
		case OPT_CONTROL:
			if (set_once(&a->control, c->name, "--control-domains"))
				return -1 - RC_USAGE;
			break;
		case OPT_PID:
			if (!parse_int(optarg, 1, INT_MAX, &v)) {
				errmsg("%s: --pid '%s': not a process ID",
				       c->name, optarg);
				return -1 - RC_USAGE;
			}
			a->have_pid = true;
			a->pid = (pid_t)v;
			break;
		case OPT_VM_FD:
			if (!parse_int(optarg, 0, INT_MAX, &v)) {
				errmsg("%s: --vm-fd '%s': not a file descriptor number",
				       c->name, optarg);
				return -1 - RC_USAGE;
			}
			a->have_fd = true;
			a->vm_fd = (int)v;
			break;
		default:
			option_error(c->name, opt, argv);
			return -1 - RC_USAGE;
		}
	}
	if (c->max_args >= 0 && argc - optind > c->max_args) {
		errmsg("%s: unexpected argument '%s'", c->name, argv[optind]);
		return -1 - RC_USAGE;
	}
	if (optind < argc) {
		for (i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		a->apqns = malloc(len);
		if (!a->apqns) {
			errmsg("out of memory");
			return -1 - RC_HOST;
		}
		a->apqns[0] = '\0';
		for (i = optind; i < argc; i++) {
			if (i > optind)
				strcat(a->apqns, ",");
			strcat(a->apqns, argv[i]);
		}
	}
	return 0;
}

static int finish_stdout(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		errmsg("cannot write to standard output: %s", strerror(errno));
		return rc ? rc : RC_HOST;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "sysfs-root", required_argument, NULL, OPT_SYSFS_ROOT },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { 0 };
	struct args a = { 0 };
	const struct command *c = NULL;
	size_t i;
	int opt, rc;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:hV", lopts, NULL)) != -1) {
		switch (opt) {
		case OPT_HELP:
			global_help();
			return finish_stdout(RC_OK);
		case OPT_VERSION:
			printf(PROG " %s (libapmatrix %s)\n", APMATRIX_CTL_VERSION,
			       apmatrix_version());
			return finish_stdout(RC_OK);
		case OPT_SYSFS_ROOT:
			cli.sysfs_root = optarg;
			break;
		default:
			option_error(NULL, opt, argv);
			return RC_USAGE;
		}
	}
	if (optind >= argc) {
		errmsg("no command given (see '" PROG " --help')");
		return RC_USAGE;
	}
	for (i = 0; i < ctl_ext_ncommands; i++) {
		if (strcmp(argv[optind], ctl_ext_commands[i].name))
			continue;
		/* commands in their own files (ctl-ext.h) */
		if (cli.sysfs_root)
			setenv("APMATRIX_SYSFS_ROOT", cli.sysfs_root, 1);
		return finish_stdout(ctl_ext_commands[i].run(argc - optind,
							     argv + optind));
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[optind], commands[i].name))
			c = &commands[i];
	if (!c) {
		errmsg("'%s': unknown command (see '" PROG " --help')",
		       argv[optind]);
		return RC_USAGE;
	}
	cli.cmd = c->name;
	rc = parse_command(&cli, c, argc - optind, argv + optind, &a);
	if (rc < 0) {
		free(a.apqns);
		return finish_stdout(-1 - rc);
	}
	rc = cli_ctx(&cli);
	if (rc == RC_OK)
		rc = c->run(&cli, &a);
	apmatrix_ctx_free(cli.ctx);
	free(a.apqns);
	return finish_stdout(rc);
}
