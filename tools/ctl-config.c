// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl apply, diff, udev-env: make the host match the declarative
 * configuration (apmatrix.conf(5)), show how it differs, and tell udev the
 * group and mode of /dev/apmatrix.
 *
 * apply is one transaction under the AP configuration lock: read the
 * host, compute the masks and bindings the configuration asks for, refuse
 * (naming each) whatever conflicts, set /dev/apmatrix's group and mode,
 * then write apmask and aqmask and see to the queues' drivers through the
 * library's reserve code (apmatrix_plan_apply_claim(): binds queues set
 * aside without a driver, moves from vfio_ap those the bus's re-probe gave
 * it, undoes all of it on failure), putting the node back if that fails.
 * Nothing is written before every check passed.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apmatrix.h"
#include "conf.h"
#include "ctl-ext.h"

#include <json.h>

/* ------------------------------------------------------------------------ */
/* Options shared by apply, diff and udev-env                                */

struct opts {
	const char *cmd;
	const char *config_dir;
	const char *sysfs_root;
	bool dry_run;
	bool kernel_cmdline;
	long wait_bus_ms;	/* --wait-for-bus: -1 do not wait */
	bool quiet;
	bool json;
	const char *name;	/* sets NAME */
};

/* 0 parsed, -1 - exit code to return */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	struct cmd_getopt g;
	int c;

	o->cmd = argv[0];
	o->wait_bus_ms = -1;
	command_getopt(o->cmd, &g);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.optstring, g.longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:	/* main.c prints --help from cmd-admin.c's table */
			return -1 - RC_OK;
		case OPT_DRY_RUN:
			o->dry_run = true;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_KERNEL_CMDLINE:
			o->kernel_cmdline = true;
			break;
		case OPT_WAIT_BUS: {
			char *end;
			double v;

			errno = 0;
			v = strtod(optarg, &end);
			if (!*optarg || *end || errno || !(v >= 0 && v <= 3600)) {
				errmsg("%s: --wait-for-bus '%s': not a number of seconds (0 to 3600)",
				       o->cmd, optarg);
				return -1 - RC_USAGE;
			}
			o->wait_bus_ms = (long)(v * 1000);
			break;
		}
		case OPT_CONFIG_DIR:
			o->config_dir = optarg;
			break;
		case OPT_SYSFS_ROOT:
			o->sysfs_root = optarg;
			break;
		default:	/* ':' or '?' */
			option_error(o->cmd, c, argv);
			return -1 - RC_USAGE;
		}
	}
	if (optind < argc && !strcmp(o->cmd, "sets") && optind + 1 == argc) {
		o->name = argv[optind];
	} else if (optind < argc) {
		errmsg("%s: unexpected argument '%s'", o->cmd, argv[optind]);
		return -1 - RC_USAGE;
	}
	if (o->json && o->quiet) {
		errmsg("%s: --json and --quiet: choose one", o->cmd);
		return -1 - RC_USAGE;
	}
	if (o->dry_run && o->kernel_cmdline) {
		errmsg("%s: --kernel-cmdline writes nothing; --dry-run has no meaning with it",
		       o->cmd);
		return -1 - RC_USAGE;
	}
	return 0;
}

static int load_conf(const struct opts *o, struct apm_conf **conf)
{
	struct apm_conf_errors errs = { 0 };
	size_t i;
	int rc;

	rc = apm_conf_load(o->config_dir, conf, &errs);
	if (!rc)
		return RC_OK;
	for (i = 0; i < errs.n; i++)
		errmsg("%s", errs.msg[i]);
	if (!errs.n)
		errmsg("%s: cannot read the configuration: %s", o->cmd, strerror(-rc));
	errmsg("%s: the configuration is invalid; nothing changed", o->cmd);
	apm_conf_errors_free(&errs);
	return rc == -ENOMEM ? RC_HOST : RC_CONFIG;
}

/*
 * The start of the commands that read only the configuration (udev-env,
 * sets): their options, then the configuration. true: go on with *conf;
 * false: return *rc (--help, a usage error, an invalid configuration).
 */
static bool conf_command(int argc, char **argv, struct opts *o, struct apm_conf **conf,
			 int *rc)
{
	*rc = parse_opts(argc, argv, o);
	if (*rc < 0) {
		*rc = -1 - *rc;
		return false;
	}
	*rc = load_conf(o, conf);
	return !*rc;
}

/* ------------------------------------------------------------------------ */
/* What the host has and what the configuration wants                       */

struct job {
	const struct opts *o;
	struct apm_conf *conf;
	struct apmatrix_ctx *ctx;
	struct apmatrix_host *host;
	struct apmatrix_matrix *want;	/* adapters = apmask, domains = aqmask */
	struct apmatrix_matrix *before;
	struct apmatrix_plan *plan;	/* NULL without [guests] */
	struct apmatrix_apqns *take, *give, *bind;
	char **conflicts;
	size_t nconflicts;
	/* /dev/apmatrix */
	const char *dev_path;
	bool dev_present, dev_group_drift, dev_mode_drift;
	struct stat dev_st;
	/* APMATRIX_LOCK/SETTLE_TIMEOUT the library cannot use (its message) */
	char env_err[160];
};

static void __attribute__((format(printf, 2, 3)))
conflict(struct job *j, const char *fmt, ...)
{
	char *s = NULL, **n;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return;
	n = realloc(j->conflicts, (j->nconflicts + 1) * sizeof(*n));
	if (!n) {
		free(s);
		return;
	}
	j->conflicts = n;
	j->conflicts[j->nconflicts++] = s;
}

static void job_free(struct job *j)
{
	size_t i;

	for (i = 0; i < j->nconflicts; i++)
		free(j->conflicts[i]);
	free(j->conflicts);
	apmatrix_apqns_free(j->take);
	apmatrix_apqns_free(j->give);
	apmatrix_apqns_free(j->bind);
	apmatrix_plan_free(j->plan);
	apmatrix_matrix_free(j->want);
	apmatrix_matrix_free(j->before);
	apmatrix_host_free(j->host);
	j->take = j->give = j->bind = NULL;
	j->plan = NULL;
	j->want = j->before = NULL;
	j->host = NULL;
	j->conflicts = NULL;
	j->nconflicts = 0;
}

/* First line of a queue's attribute file, "" if it has none. */
static void queue_attr(const struct job *j, unsigned int a, unsigned int d,
		       const char *attr, char *buf, size_t len)
{
	queue_attr_line(apmatrix_ctx_get_sysfs_root(j->ctx), a, d, attr, buf, len);
}

static bool driver_exists(const struct job *j, const char *drv)
{
	char *path = NULL;
	struct stat st;
	bool ok;

	if (asprintf(&path, "%s/bus/ap/drivers/%s", apmatrix_ctx_get_sysfs_root(j->ctx),
		     drv) < 0)
		return false;
	ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	free(path);
	return ok;
}

static const char *loc(const struct apm_conf_loc *at, char *buf, size_t len)
{
	if (at && at->file && at->line)
		snprintf(buf, len, "%s:%d", at->file, at->line);
	else if (at && at->file)
		snprintf(buf, len, "%s", at->file);
	else
		snprintf(buf, len, "the configuration");
	return buf;
}

#define LOC(at) loc((at), (char[4200]){ 0 }, 4200)

/* Is (a, d) in one of the configuration's sets? The first such set. */
static const struct apm_conf_set *in_set(const struct apm_conf *c, unsigned int a,
					 unsigned int d)
{
	size_t i;

	for (i = 0; i < c->nsets; i++)
		if (apmatrix_matrix_has_apqn(c->sets[i].m, a, d))
			return &c->sets[i];
	return NULL;
}

/* Why a queue that goes back to the host cannot, or NULL. */
static const char *give_back_veto(const struct job *j, const struct apmatrix_queue *q,
				  char *buf, size_t len)
{
	unsigned int a = apmatrix_queue_apid(q), d = apmatrix_queue_apqi(q);
	const char *drv = apmatrix_queue_driver(q);
	char st[128];

	if (!drv)
		return NULL;
	if (!strcmp(drv, "apmatrix")) {
		queue_attr(j, a, d, "apmatrix_state", st, sizeof(st));
		if (!strncmp(st, "in use", 6)) {
			snprintf(buf, len, "held by a VM (apmatrix_state: %s)", st);
			return buf;
		}
		if (!strcmp(st, "resetting")) {
			snprintf(buf, len, "being reset after leaving a VM (apmatrix_state: resetting); retry when it is free");
			return buf;
		}
		if (!strcmp(st, "reset failed")) {
			snprintf(buf, len, "its reset after leaving a VM failed (apmatrix_state: reset failed); the host must not have it");
			return buf;
		}
		return NULL;
	}
	if (!strcmp(drv, "vfio_ap")) {
		queue_attr(j, a, d, "status", st, sizeof(st));
		if (!strcmp(st, "assigned") || !strcmp(st, "in use")) {
			snprintf(buf, len, "assigned to a vfio_ap mediated device (status: %s)", st);
			return buf;
		}
	}
	return NULL;
}

/* Compute everything; writes nothing. RC_OK or an exit code (printed). */
static int job_plan(struct job *j)
{
	const struct apm_conf *c = j->conf;
	struct apmatrix_matrix *cfg = NULL;
	unsigned int i, k, a, d, max_a, max_d;
	char why[256];
	size_t s;
	int err;

	err = apmatrix_host_read(j->ctx, &j->host);
	if (err < 0) {
		errmsg("%s: %s", j->o->cmd, apmatrix_ctx_last_error(j->ctx));
		return RC_HOST;
	}
	j->want = apmatrix_matrix_new();
	j->before = apmatrix_matrix_new();
	j->take = apmatrix_apqns_new();
	j->give = apmatrix_apqns_new();
	j->bind = apmatrix_apqns_new();
	cfg = apmatrix_matrix_new();
	if (!j->want || !j->before || !j->take || !j->give || !j->bind || !cfg)
		goto nomem;
	apmatrix_host_get_masks(j->host, APMATRIX_HOST_MASKS, j->before);
	apmatrix_host_get_masks(j->host, APMATRIX_HOST_CONFIG, cfg);
	max_a = apmatrix_host_max_adapter_id(j->host);
	max_d = apmatrix_host_max_domain_id(j->host);

	/* the masks the configuration asks for */
	if (c->guests) {
		for (i = 0; i <= APMATRIX_MAX_ID; i++) {
			bool ta = apmatrix_matrix_test(c->take, APMATRIX_ADAPTERS, i);
			bool td = apmatrix_matrix_test(c->take, APMATRIX_DOMAINS, i);

			apmatrix_matrix_set(j->want, APMATRIX_ADAPTERS, i, !ta);
			apmatrix_matrix_set(j->want, APMATRIX_DOMAINS, i, !td);
			if (ta && i > max_a)
				conflict(j, "adapter %02x (%s): not on this host (ap_max_adapter_id is 0x%02x)",
					 i, LOC(&c->adapter_at[i]), max_a);
			if (td && i > max_d)
				conflict(j, "domain %04x (%s): not on this host (ap_max_domain_id is 0x%02x)",
					 i, LOC(&c->domain_at[i]), max_d);
		}
		err = apmatrix_plan_masks(j->ctx, j->host, j->want, &j->plan);
		if (err < 0) {
			errmsg("%s: %s", j->o->cmd, apmatrix_ctx_last_error(j->ctx));
			apmatrix_matrix_free(cfg);
			return RC_HOST;
		}
	} else {
		/* no [guests]: the masks are not the configuration's business */
		apmatrix_host_get_masks(j->host, APMATRIX_HOST_MASKS, j->want);
	}

	/* every queue: does it change side, can it, must it be bound? */
	for (i = 0; i < apmatrix_host_num_cards(j->host); i++) {
		const struct apmatrix_card *card = apmatrix_host_card(j->host, i);

		for (k = 0; k < apmatrix_card_num_queues(card); k++) {
			const struct apmatrix_queue *q = apmatrix_card_queue(card, k);
			const char *drv = apmatrix_queue_driver(q);
			const struct apm_conf_set *set;
			bool hb, ha;

			a = apmatrix_queue_apid(q);
			d = apmatrix_queue_apqi(q);
			hb = apmatrix_matrix_test(j->before, APMATRIX_ADAPTERS, a) &&
			     apmatrix_matrix_test(j->before, APMATRIX_DOMAINS, d);
			ha = apmatrix_matrix_test(j->want, APMATRIX_ADAPTERS, a) &&
			     apmatrix_matrix_test(j->want, APMATRIX_DOMAINS, d);
			if (hb && !ha) {
				apmatrix_apqns_add(j->take, a, d);
				continue;	/* the AP bus binds it when the masks change */
			}
			if (!hb && ha) {
				apmatrix_apqns_add(j->give, a, d);
				if (give_back_veto(j, q, why, sizeof(why)))
					conflict(j, "%02x.%04x: %s; the configuration gives it back to the host",
						 a, d, why);
				continue;
			}
			if (ha || !c->guests)
				continue;
			/* set aside before and after */
			set = in_set(c, a, d);
			if (!drv) {
				apmatrix_apqns_add(j->bind, a, d);
			} else if (strcmp(drv, "apmatrix") && strcmp(drv, "cex4queue") && set) {
				/* (cex4queue: the AP bus is still rebinding it) */
				queue_attr(j, a, d, "status", why, sizeof(why));
				conflict(j, "%02x.%04x: bound to %s%s%s%s, but set '%s' (%s) is for apmatrix",
					 a, d, drv, why[0] ? " (status: " : "", why,
					 why[0] ? ")" : "", set->name, LOC(&set->apqns));
			}
		}
	}
	if (apmatrix_apqns_count(j->bind) && !driver_exists(j, "apmatrix")) {
		char *t = NULL;
		int n = apmatrix_apqns_format(j->bind, why, sizeof(why));

		t = n >= 0 && (size_t)n < sizeof(why) ? why : "some queues";
		conflict(j, "%s: set aside but bound to no driver, and the apmatrix AP driver is not loaded (modprobe ap_matrix_drv)",
			 t);
	}

	/*
	 * the sets: every queue and control domain must be on this host.
	 * Only the first few missing queues are named: a set may be a
	 * 256 x 256 matrix, and formatting all of it for every one of many
	 * sets took minutes (the boot unit's timeout).
	 */
	for (s = 0; s < c->nsets; s++) {
		const struct apm_conf_set *set = &c->sets[s];
		unsigned int ngone = 0;
		int nw = 0;

		why[0] = '\0';
		for (a = 0; a <= APMATRIX_MAX_ID; a++) {
			if (!apmatrix_matrix_test(set->m, APMATRIX_ADAPTERS, a))
				continue;
			for (d = 0; d <= APMATRIX_MAX_ID; d++) {
				if (!apmatrix_matrix_test(set->m, APMATRIX_DOMAINS, d) ||
				    apmatrix_host_queue(j->host, a, d))
					continue;
				if (ngone++ < 8)
					nw += snprintf(why + nw, sizeof(why) - (size_t)nw, "%s%02x.%04x",
						       ngone > 1 ? "," : "", a, d);
			}
		}
		if (ngone)
			conflict(j, "set '%s' (%s): %s%s: not on this host (no such queue)",
				 set->name, LOC(&set->apqns), why,
				 ngone > 8 ? ",..." : "");
		/* one line per set, not one per control domain */
		ngone = 0;
		nw = 0;
		why[0] = '\0';
		for (d = 0; d <= APMATRIX_MAX_ID; d++) {
			if (apmatrix_matrix_test(set->m, APMATRIX_CONTROL_DOMAINS, d) &&
			    !apmatrix_matrix_test(cfg, APMATRIX_CONTROL_DOMAINS, d) &&
			    ngone++ < 8)
				nw += snprintf(why + nw, sizeof(why) - (size_t)nw, "%s%04x",
					       ngone > 1 ? "," : "", d);
		}
		if (ngone)
			conflict(j, "set '%s' (%s): control domain%s %s%s: not on this host (not in ap_control_domain_mask)",
				 set->name, LOC(&set->control), ngone > 1 ? "s" : "", why,
				 ngone > 8 ? ",..." : "");
	}
	apmatrix_matrix_free(cfg);
	cfg = NULL;

	/* /dev/apmatrix: the device the library makes grants on (its
	 * default, or $APMATRIX_GRANT_DEVICE as the library reads it) */
	j->dev_path = apmatrix_ctx_get_grant_device(j->ctx);
	/* without [device]: the kernel's root 0600 (c->group NULL, c->mode 0600) */
	if (stat(j->dev_path, &j->dev_st) == 0) {
		j->dev_present = true;
		j->dev_group_drift = j->dev_st.st_gid != (c->group ? c->gid : 0);
		j->dev_mode_drift = (j->dev_st.st_mode & 07777) != c->mode;
	}
	return RC_OK;
nomem:
	apmatrix_matrix_free(cfg);
	errmsg("%s: out of memory", j->o->cmd);
	return RC_HOST;
}

static bool job_drift(const struct job *j)
{
	return (j->plan && !apmatrix_plan_is_noop(j->plan)) ||
	       apmatrix_apqns_count(j->bind) || j->dev_group_drift ||
	       j->dev_mode_drift;
}

static void print_apqns(const char *label, const struct apmatrix_apqns *s)
{
	char small[256], *big;
	int n;

	if (!apmatrix_apqns_count(s))
		return;
	n = apmatrix_apqns_format(s, small, sizeof(small));
	if (n >= 0 && (size_t)n < sizeof(small)) {
		printf("%s: %s\n", label, small);
		return;
	}
	big = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (big && apmatrix_apqns_format(s, big, (size_t)n + 1) >= 0)
		printf("%s: %s\n", label, big);
	free(big);
}

static void print_mask(const char *name, const struct apmatrix_matrix *b,
		       const struct apmatrix_matrix *a, enum apmatrix_part part)
{
	char x[80], y[80];

	apmatrix_matrix_format_mask(b, part, x, sizeof(x));
	apmatrix_matrix_format_mask(a, part, y, sizeof(y));
	if (strcmp(x, y))
		printf("%s: %s -> %s\n", name, x, y);
}

static const char *group_name(gid_t gid, char *buf, size_t len)
{
	struct group *g = getgrgid(gid);

	if (g)
		snprintf(buf, len, "%s", g->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned int)gid);
	return buf;
}

/* The changes, one line each, on stdout. */
static void job_print(const struct job *j)
{
	const struct apm_conf *c = j->conf;
	char g1[64], g2[64];

	if (j->plan && !apmatrix_plan_is_noop(j->plan)) {
		print_mask("apmask", j->before, j->want, APMATRIX_ADAPTERS);
		print_mask("aqmask", j->before, j->want, APMATRIX_DOMAINS);
	}
	print_apqns("take from the host", j->take);
	print_apqns("give back to the host", j->give);
	print_apqns("bind to apmatrix", j->bind);
	if (j->dev_group_drift)
		printf("%s: group %s -> %s\n", j->dev_path,
		       group_name(j->dev_st.st_gid, g1, sizeof(g1)),
		       group_name(c->group ? c->gid : 0, g2, sizeof(g2)));
	if (j->dev_mode_drift)
		printf("%s: mode %04o -> %04o\n", j->dev_path,
		       (unsigned int)(j->dev_st.st_mode & 07777), (unsigned int)c->mode);
}

static void print_conflicts(const struct job *j)
{
	size_t i;

	for (i = 0; i < j->nconflicts; i++)
		errmsg("conflict: %s", j->conflicts[i]);
}

static int job_start(struct job *j, const struct opts *o)
{
	int rc;

	j->o = o;
	rc = load_conf(o, &j->conf);
	if (rc)
		return rc;
	j->ctx = apmatrix_ctx_new();
	if (!j->ctx) {
		errmsg("%s: cannot make a libapmatrix context: %s", o->cmd, strerror(errno));
		return RC_HOST;
	}
	/* said right after the context is made, cleared by the next call */
	snprintf(j->env_err, sizeof(j->env_err), "%s", apmatrix_ctx_last_error(j->ctx));
	if (o->sysfs_root && apmatrix_ctx_set_sysfs_root(j->ctx, o->sysfs_root) < 0) {
		errmsg("%s: --sysfs-root '%s': %s", o->cmd, o->sysfs_root,
		       apmatrix_ctx_last_error(j->ctx));
		return RC_USAGE;
	}
	return RC_OK;
}

static void job_end(struct job *j)
{
	job_free(j);
	apmatrix_ctx_free(j->ctx);
	apm_conf_free(j->conf);
}

/* ------------------------------------------------------------------------ */
/* diff                                                                      */

static const char *group_name(gid_t gid, char *buf, size_t len);

static struct json_object *json_apqns(const struct apmatrix_apqns *s)
{
	struct json_object *a = json_object_new_array();
	unsigned int i, n = apmatrix_apqns_count(s), ap, dom;
	char buf[16];

	for (i = 0; i < n && apmatrix_apqns_get(s, i, &ap, &dom) == 0; i++) {
		snprintf(buf, sizeof(buf), "%02x.%04x", ap, dom);
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

static struct json_object *json_change(const char *before, const char *after)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "before", json_object_new_string(before));
	json_object_object_add(o, "after", json_object_new_string(after));
	return o;
}

/* diff --json: the whole difference as one document */
static void job_json(const struct job *j)
{
	const struct apm_conf *c = j->conf;
	struct json_object *root = json_object_new_object(), *conf, *dev = NULL;
	char x[80], y[80], g1[64], g2[64];
	size_t i;

	json_object_object_add(root, "format_version", json_object_new_int(1));
	json_object_object_add(root, "config_dir", json_object_new_string(c->dir));
	json_object_object_add(root, "drift", json_object_new_boolean(job_drift(j)));
	if (j->plan) {
		apmatrix_matrix_format_mask(j->before, APMATRIX_ADAPTERS, x, sizeof(x));
		apmatrix_matrix_format_mask(j->want, APMATRIX_ADAPTERS, y, sizeof(y));
		json_object_object_add(root, "apmask", json_change(x, y));
		apmatrix_matrix_format_mask(j->before, APMATRIX_DOMAINS, x, sizeof(x));
		apmatrix_matrix_format_mask(j->want, APMATRIX_DOMAINS, y, sizeof(y));
		json_object_object_add(root, "aqmask", json_change(x, y));
	} else {
		json_object_object_add(root, "apmask", NULL);
		json_object_object_add(root, "aqmask", NULL);
	}
	json_object_object_add(root, "take_from_host", json_apqns(j->take));
	json_object_object_add(root, "give_back_to_host", json_apqns(j->give));
	json_object_object_add(root, "bind_to_apmatrix", json_apqns(j->bind));
	if (j->dev_present) {
		dev = json_object_new_object();
		json_object_object_add(dev, "path", json_object_new_string(j->dev_path));
		json_object_object_add(dev, "group",
			json_change(group_name(j->dev_st.st_gid, g1, sizeof(g1)),
				    group_name(c->group ? c->gid : 0, g2, sizeof(g2))));
		snprintf(x, sizeof(x), "%04o", (unsigned int)(j->dev_st.st_mode & 07777));
		snprintf(y, sizeof(y), "%04o", (unsigned int)c->mode);
		json_object_object_add(dev, "mode", json_change(x, y));
	}
	json_object_object_add(root, "device", dev);
	conf = json_object_new_array();
	for (i = 0; i < j->nconflicts; i++)
		json_object_array_add(conf, json_object_new_string(j->conflicts[i]));
	json_object_object_add(root, "conflicts", conf);
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

int cmd_diff(int argc, char **argv)
{
	struct opts o = { 0 };
	struct job j = { 0 };
	int rc;

	rc = parse_opts(argc, argv, &o);
	if (rc < 0)
		return -1 - rc;
	rc = job_start(&j, &o);
	if (!rc)
		rc = job_plan(&j);
	if (rc)
		goto out;
	if (o.json && !o.quiet) {
		job_json(&j);
		rc = j.nconflicts ? RC_REFUSED : job_drift(&j) ? RC_DRIFT : RC_OK;
		goto out;
	}
	if (!job_drift(&j) && !j.nconflicts) {
		if (!o.quiet)
			printf("no drift: the host matches %s\n", j.conf->dir);
		rc = RC_OK;
		goto out;
	}
	if (!o.quiet) {
		job_print(&j);
		print_conflicts(&j);
	}
	rc = j.nconflicts ? RC_REFUSED : RC_DRIFT;
out:
	job_end(&j);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* apply                                                                     */

static int kernel_cmdline(const struct opts *o)
{
	struct apm_conf *c = NULL;
	struct apmatrix_matrix *m;
	char ap[80], aq[80];
	unsigned int i;
	int rc;

	rc = load_conf(o, &c);
	if (rc)
		return rc;
	if (!c->guests) {
		errmsg("apply: --kernel-cmdline: %s has no [guests] section: the masks are not the configuration's to set",
		       c->dir);
		apm_conf_free(c);
		return RC_CONFIG;
	}
	m = apmatrix_matrix_new();
	if (!m) {
		apm_conf_free(c);
		errmsg("apply: out of memory");
		return RC_HOST;
	}
	for (i = 0; i <= APMATRIX_MAX_ID; i++) {
		apmatrix_matrix_set(m, APMATRIX_ADAPTERS, i,
				    !apmatrix_matrix_test(c->take, APMATRIX_ADAPTERS, i));
		apmatrix_matrix_set(m, APMATRIX_DOMAINS, i,
				    !apmatrix_matrix_test(c->take, APMATRIX_DOMAINS, i));
	}
	apmatrix_matrix_format_mask(m, APMATRIX_ADAPTERS, ap, sizeof(ap));
	apmatrix_matrix_format_mask(m, APMATRIX_DOMAINS, aq, sizeof(aq));
	printf("ap.apmask=%s ap.aqmask=%s\n", ap, aq);
	apmatrix_matrix_free(m);
	apm_conf_free(c);
	return RC_OK;
}

/*
 * At boot the AP bus scans its devices a little after it appears; until its
 * first scan (/sys/bus/ap/scans > 0) the cards and queues are not all there
 * and a set's queue would look "not on this host". Wait for it, at most
 * ms milliseconds. RC_OK or RC_HOST (printed).
 */
static int wait_for_bus(const struct job *j, long ms)
{
	char *path = NULL, buf[32];
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	long waited = 0;
	FILE *f;

	if (asprintf(&path, "%s/bus/ap/scans", apmatrix_ctx_get_sysfs_root(j->ctx)) < 0) {
		errmsg("apply: out of memory");
		return RC_HOST;
	}
	for (;;) {
		f = fopen(path, "re");
		buf[0] = '\0';
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
		}
		if (strtol(buf, NULL, 10) > 0)
			break;
		if (waited >= ms) {
			errmsg("apply: the AP bus has not scanned its devices after %ld.%01ld s (%s: %s)",
			       ms / 1000, ms % 1000 / 100, path, f ? "0" : "missing");
			free(path);
			return RC_HOST;
		}
		nanosleep(&ts, NULL);
		waited += 100;
	}
	free(path);
	return RC_OK;
}

/*
 * No /sys/bus/ap at all: no AP crypto facility on this machine (the AP bus
 * does not register without one) or the ap module is not loaded (the unit
 * loads it first). Waiting for it would only delay the boot. A
 * configuration that asks for nothing (the package's, all comments) is
 * then met; any other cannot be. RC_OK to go on, else the exit code
 * (printed); -1 - RC_OK: done, nothing to do.
 */
static int check_bus(struct job *j)
{
	const struct apm_conf *c = j->conf;
	char *path = NULL;
	struct stat st;
	bool there;

	if (asprintf(&path, "%s/bus/ap", apmatrix_ctx_get_sysfs_root(j->ctx)) < 0) {
		errmsg("apply: out of memory");
		return RC_HOST;
	}
	there = stat(path, &st) == 0;
	if (!there && !c->guests && !c->device && !c->nsets) {
		printf("nothing to do: %s configures nothing, and there is no AP bus (%s)\n",
		       c->dir, path);
		free(path);
		return -1 - RC_OK;
	}
	if (!there) {
		errmsg("apply: there is no AP bus: %s does not exist (no AP crypto facility on this machine, or the ap module is not loaded); nothing changed",
		       path);
		free(path);
		return RC_HOST;
	}
	free(path);
	return RC_OK;
}

/*
 * The masks and the queues' drivers, through the library's reserve code
 * (apmatrix_plan_apply_claim(), lock held): write the masks, then bind
 * to apmatrix the queues set aside without a driver and move from vfio_ap
 * those the bus's re-probe gave it that no mediated device has. A queue
 * set aside already and bound to vfio_ap is left to it (TAKEN_ONLY; a set
 * naming one is a conflict found before). On failure the library has put
 * back what it did, masks included, and its message (ctx's last error,
 * not printed yet) says so. RC_OK or an exit code.
 */
static int job_claim(struct job *j)
{
	struct apmatrix_matrix *all = apmatrix_matrix_new();
	struct apmatrix_claim *claim = NULL;
	enum apmatrix_claim_action act;
	unsigned int i, a, d;
	int err, rc = RC_OK;

	if (!all) {
		errmsg("apply: out of memory");
		return RC_HOST;
	}
	for (i = 0; i <= APMATRIX_MAX_ID; i++) {
		apmatrix_matrix_set(all, APMATRIX_ADAPTERS, i, true);
		apmatrix_matrix_set(all, APMATRIX_DOMAINS, i, true);
	}
	err = apmatrix_plan_apply_claim(j->ctx, j->host, j->plan, all,
					APMATRIX_CLAIM_TAKEN_ONLY, &claim);
	for (i = 0; !err && i < apmatrix_claim_count(claim); i++) {
		if (apmatrix_claim_get(claim, i, &a, &d, &act, NULL, NULL) < 0)
			break;
		if (act == APMATRIX_CLAIM_MOVED)
			printf("moved from vfio_ap to apmatrix: %02x.%04x (the AP bus gave it to vfio_ap)\n",
			       a, d);
		else if (act == APMATRIX_CLAIM_BOUND && !apmatrix_apqns_contains(j->bind, a, d))
			printf("bind to apmatrix: %02x.%04x (left without a driver by the AP bus)\n",
			       a, d);
	}
	if (err < 0) {
		/* said by the caller, once /dev/apmatrix is seen to */
		rc = err == -EBUSY ? RC_RETRY : err == -EADDRINUSE ? RC_REFUSED : RC_HOST;
		/* the undo could not write them back (the message says so) */
		if (apmatrix_claim_masks_written(claim))
			rc = RC_HOST;
	}
	apmatrix_claim_free(claim);
	apmatrix_matrix_free(all);
	return rc;
}

/* /dev/apmatrix's group back as it was, after dev_apply changed it: false printed */
static bool dev_group_back(const struct job *j, gid_t gid)
{
	if (chown(j->dev_path, (uid_t)-1, j->dev_st.st_gid) < 0) {
		errmsg("apply: rollback: %s: chown back to group %u: %s; its group is %u",
		       j->dev_path, (unsigned int)j->dev_st.st_gid, strerror(errno),
		       (unsigned int)gid);
		return false;
	}
	return true;
}

/* /dev/apmatrix's group and mode back as they were (after dev_apply): false printed */
static bool dev_restore(const struct job *j)
{
	gid_t gid = j->conf->group ? j->conf->gid : 0;
	bool ok = true;

	if (j->dev_mode_drift && chmod(j->dev_path, j->dev_st.st_mode & 07777) < 0) {
		errmsg("apply: rollback: %s: chmod back to %04o: %s", j->dev_path,
		       (unsigned int)(j->dev_st.st_mode & 07777), strerror(errno));
		ok = false;
	}
	if (j->dev_group_drift)
		ok = dev_group_back(j, gid) && ok;
	return ok;
}

/*
 * /dev/apmatrix's group and mode, as the configuration says. On failure
 * (printed) the node is put back as it was: -errno, or 1 when its
 * group could not be put back (printed too); 0 done.
 */
static int dev_apply(struct job *j)
{
	gid_t gid = j->conf->group ? j->conf->gid : 0;
	int err;

	if (j->dev_group_drift && chown(j->dev_path, (uid_t)-1, gid) < 0) {
		err = errno;
		errmsg("apply: %s: chown to group %u: %s", j->dev_path, (unsigned int)gid,
		       strerror(err));
		return -err;
	}
	if (j->dev_mode_drift && chmod(j->dev_path, j->conf->mode) < 0) {
		err = errno;
		errmsg("apply: %s: chmod %04o: %s", j->dev_path, (unsigned int)j->conf->mode,
		       strerror(err));
		if (j->dev_group_drift && !dev_group_back(j, gid))
			return 1;
		return -err;
	}
	return 0;
}

/*
 * After job_claim() failed: /dev/apmatrix back first, then the library's
 * message, which says "nothing changed" only while that is true. False
 * when the node could not be put back.
 */
static bool claim_failed(const struct job *j)
{
	static const char none[] = ": nothing changed";
	const char *msg = apmatrix_ctx_last_error(j->ctx);
	size_t n = strlen(msg);
	char *copy = strdup(msg);	/* dev_restore() may print, not call the library */
	bool back = dev_restore(j);

	msg = copy ? copy : msg;
	if (back)
		errmsg("apply: %s", msg);
	else if (n >= sizeof(none) - 1 && !strcmp(msg + n - (sizeof(none) - 1), none))
		errmsg("apply: %.*s: nothing else changed, but %s could not be put back (above)",
		       (int)(n - (sizeof(none) - 1)), msg, j->dev_path);
	else
		errmsg("apply: %s; %s could not be put back either (above)", msg, j->dev_path);
	free(copy);
	return back;
}

int cmd_apply(int argc, char **argv)
{
	struct opts o = { 0 };
	struct job j = { 0 };
	int rc, err;

	rc = parse_opts(argc, argv, &o);
	if (rc < 0)
		return -1 - rc;
	if (o.kernel_cmdline)
		return kernel_cmdline(&o);
	rc = job_start(&j, &o);
	if (rc)
		goto out;
	/*
	 * A lock wait or settle time that is no number: the real run's lock
	 * refuses it, so --dry-run, which takes no lock, refuses it too (it
	 * said "dry run: nothing written", exit 0, to a run that exits 1)
	 */
	if (j.env_err[0]) {
		errmsg("apply: %s", j.env_err);
		rc = RC_USAGE;
		goto out;
	}
	rc = check_bus(&j);
	if (rc) {
		rc = rc < 0 ? -1 - rc : rc;
		goto out;
	}
	if (o.wait_bus_ms >= 0) {
		rc = wait_for_bus(&j, o.wait_bus_ms);
		if (rc)
			goto out;
	}

	/* one transaction: nobody changes the AP configuration meanwhile */
	if (!o.dry_run) {
		err = apmatrix_lock(j.ctx, false);
		if (err == -EWOULDBLOCK) {
			errmsg("apply: waiting for the AP configuration lock %s",
			       apmatrix_ctx_get_lock_file(j.ctx));
			err = apmatrix_lock(j.ctx, true);
		}
		if (err < 0) {
			/* (a bad timeout was refused above: EINVAL here is
			 * a lock file that is no regular file, the host's) */
			errmsg("apply: %s", apmatrix_ctx_last_error(j.ctx));
			rc = RC_HOST;
			goto out;
		}
	}
	rc = job_plan(&j);
	if (rc)
		goto out;
	if (j.nconflicts) {
		job_print(&j);
		print_conflicts(&j);
		errmsg("apply: %zu conflict%s; nothing changed", j.nconflicts,
		       j.nconflicts > 1 ? "s" : "");
		rc = RC_REFUSED;
		goto out;
	}
	if (!job_drift(&j)) {
		printf("nothing to do: the host matches %s\n", j.conf->dir);
		rc = RC_OK;
		goto out;
	}
	job_print(&j);
	if (o.dry_run) {
		printf("dry run: nothing written\n");
		rc = RC_OK;
		goto out;
	}
	fflush(stdout);

	/*
	 * /dev/apmatrix first: putting it back cannot fail the way an undo
	 * of binds can, so a failure of the masks or queues that follow
	 * leaves nothing changed
	 */
	err = dev_apply(&j);
	if (err) {
		errmsg("apply: %s", err > 0 ?
		       "the masks and queues are unchanged, not so /dev/apmatrix (above)" :
		       "nothing changed");
		rc = RC_HOST;
		goto out;
	}
	if (j.plan && (!apmatrix_plan_is_noop(j.plan) || apmatrix_apqns_count(j.bind))) {
		rc = job_claim(&j);
		if (rc) {
			if (!claim_failed(&j))
				rc = RC_HOST;
			goto out;
		}
	}
	printf("applied\n");
	rc = RC_OK;
out:
	job_end(&j);	/* drops the lock */
	return rc;
}

/* ------------------------------------------------------------------------ */
/* udev-env: IMPORT{program} of the udev rule                                */

int cmd_udev_env(int argc, char **argv)
{
	struct apm_conf *c = NULL;
	struct opts o = { 0 };
	int rc;

	if (!conf_command(argc, argv, &o, &c, &rc))
		return rc;
	if (c->device) {
		printf("APMATRIX_GROUP=%s\n", c->group ? c->group : "root");
		printf("APMATRIX_MODE=%04o\n", (unsigned int)c->mode);
	}
	apm_conf_free(c);
	return RC_OK;
}

/* ------------------------------------------------------------------------ */
/* sets, and the sets for 'grant --set NAME'                                 */

/* Set name of c, or NULL with the sets there named on stderr. */
static const struct apm_conf_set *find_set(const struct apm_conf *c, const char *name)
{
	const struct apm_conf_set *set = apm_conf_find_set(c, name);
	char list[512];
	size_t i, n = 0;

	if (set)
		return set;
	list[0] = '\0';
	for (i = 0; i < c->nsets && n < sizeof(list) - 1; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
				      c->sets[i].name);
	if (n >= sizeof(list))
		n = sizeof(list) - 1;
	errmsg("no set '%s' in %s (%s%s)", name, c->dir, c->nsets ? "its sets: " : "it has none",
	       list);
	return NULL;
}

int ctl_config_set(const char *config_dir, const char *name,
		   struct apmatrix_matrix *m)
{
	struct opts o = { .cmd = "grant", .config_dir = config_dir };
	const struct apm_conf_set *set;
	struct apm_conf *c = NULL;
	unsigned int id;
	int rc;

	rc = load_conf(&o, &c);
	if (rc)
		return rc;
	set = find_set(c, name);
	if (!set) {
		apm_conf_free(c);
		return RC_USAGE;
	}
	apmatrix_matrix_clear(m);
	for (id = 0; id <= APMATRIX_MAX_ID; id++) {
		apmatrix_matrix_set(m, APMATRIX_ADAPTERS, id,
				    apmatrix_matrix_test(set->m, APMATRIX_ADAPTERS, id));
		apmatrix_matrix_set(m, APMATRIX_DOMAINS, id,
				    apmatrix_matrix_test(set->m, APMATRIX_DOMAINS, id));
		apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, id,
				    apmatrix_matrix_test(set->m, APMATRIX_CONTROL_DOMAINS, id));
	}
	apm_conf_free(c);
	return RC_OK;
}

static struct json_object *set_json(const struct apm_conf_set *set)
{
	static const struct {
		const char *ids, *mask;
		enum apmatrix_part part;
	} parts[] = {
		{ "adapters", "apm", APMATRIX_ADAPTERS },
		{ "domains", "aqm", APMATRIX_DOMAINS },
		{ "control_domains", "adm", APMATRIX_CONTROL_DOMAINS },
	};
	struct json_object *o = json_object_new_object();
	char buf[1024];
	unsigned int i;

	json_object_object_add(o, "name", json_object_new_string(set->name));
	if (apmatrix_matrix_format_apqns(set->m, buf, sizeof(buf)) >= 0)
		json_object_object_add(o, "apqns", json_object_new_string(buf));
	for (i = 0; i < 3; i++) {
		if (apmatrix_matrix_format_ids(set->m, parts[i].part, buf, sizeof(buf)) >= 0)
			json_object_object_add(o, parts[i].ids, json_object_new_string(buf));
		if (apmatrix_matrix_format_mask(set->m, parts[i].part, buf, sizeof(buf)) >= 0)
			json_object_object_add(o, parts[i].mask, json_object_new_string(buf));
	}
	snprintf(buf, sizeof(buf), "%s:%d", set->where.file, set->where.line);
	json_object_object_add(o, "defined_at", json_object_new_string(buf));
	return o;
}

static void set_human(const struct apm_conf_set *set)
{
	char a[1024], c[1024];

	if (apmatrix_matrix_format_apqns(set->m, a, sizeof(a)) < 0)
		a[0] = '\0';
	if (apmatrix_matrix_format_ids(set->m, APMATRIX_CONTROL_DOMAINS, c, sizeof(c)) < 0)
		c[0] = '\0';
	printf("%s: apqns %s; control domains %s\n", set->name, a, c[0] ? c : "none");
}

int cmd_sets(int argc, char **argv)
{
	struct json_object *arr = NULL;
	struct apm_conf *c = NULL;
	struct opts o = { 0 };
	size_t i;
	int rc;

	if (!conf_command(argc, argv, &o, &c, &rc))
		return rc;
	if (o.name && !find_set(c, o.name)) {
		apm_conf_free(c);
		return RC_USAGE;
	}
	if (o.json)
		arr = json_object_new_array();
	for (i = 0; i < c->nsets; i++) {
		if (o.name && strcmp(o.name, c->sets[i].name))
			continue;
		if (arr)
			json_object_array_add(arr, set_json(&c->sets[i]));
		else
			set_human(&c->sets[i]);
	}
	if (arr) {
		struct json_object *root = json_object_new_object();

		json_object_object_add(root, "format_version", json_object_new_int(1));
		json_object_object_add(root, "sets", arr);
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_SPACED |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
	apm_conf_free(c);
	return RC_OK;
}
