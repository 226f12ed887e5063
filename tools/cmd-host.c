// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl: the host commands - list, reserve, release - on
 * /sys/bus/ap (apmask, aqmask and the queues' drivers).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "ctl.h"

static int cmd_list(struct cli *cli, struct args *a)
{
	struct apmatrix_apqns *filter = NULL;
	struct apmatrix_matrix *masks = NULL;
	struct apmatrix_host *host = NULL;
	char apmask[80], aqmask[80];
	unsigned int found = 0;
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
	/*
	 * Only what is shown: the table's STATUS needs config, chkstop and
	 * online only as far as they decide it; hwtype is in neither; with
	 * APQNs, no other queue and no card without one of them.
	 */
	err = apmatrix_host_read_some(cli->ctx, APMATRIX_READ_TYPE | APMATRIX_READ_STATE |
				      (a->json ? APMATRIX_READ_STATUS :
						 APMATRIX_READ_STATUS_SHOWN),
				      filter, &host);
	if (err < 0) {
		errmsg("%s", CTX_MSG(cli, err));
		goto out;
	}
	if (filter) {
		struct apmatrix_apqns_iter it;
		unsigned int apid, apqi;

		apmatrix_apqns_iter_init(&it);
		while (apmatrix_apqns_next(filter, &it, &apid, &apqi))
			if (apmatrix_host_queue(host, apid, apqi))
				found++;
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

/* The usage APQNs of want that the host view does not have. */
static struct apmatrix_apqns *absent_apqns(const struct apmatrix_host *host,
					   const struct apmatrix_matrix *want)
{
	struct apmatrix_apqns *s = apmatrix_apqns_new();
	unsigned int a, d;

	for (a = 0; s && a <= APMATRIX_MAX_ID; a++)
		for (d = 0; d <= APMATRIX_MAX_ID; d++)
			if (apmatrix_matrix_has_apqn(want, a, d) &&
			    !apmatrix_host_queue(host, a, d))
				apmatrix_apqns_add(s, a, d);
	return s;
}

/*
 * A line for each queue reserve bound, moved or left without the apmatrix
 * driver (vfio_ap or none); queues it kept with apmatrix, or found with
 * another driver, need none. With dry, what it would do to those bound
 * so now (a queue a default driver has now is the bus's to re-probe:
 * --json shows them). Returns the number of lines.
 */
static unsigned int print_claim(const struct apmatrix_claim *claim, bool dry)
{
	enum apmatrix_claim_action act;
	const char *drv, *why;
	unsigned int i, a, d, n = 0;

	for (i = 0; i < apmatrix_claim_count(claim); i++) {
		if (apmatrix_claim_get(claim, i, &a, &d, &act, &drv, &why) < 0)
			continue;
		if (act == APMATRIX_CLAIM_MOVED)
			printf("%02x.%04x: %s from %s to apmatrix\n", a, d,
			       dry ? "would be moved" : "moved", drv);
		else if (act == APMATRIX_CLAIM_BOUND)
			printf("%02x.%04x: %s\n", a, d, dry ?
			       "would be bound to apmatrix (it has no driver)" :
			       "bound to apmatrix (it had no driver)");
		else if (act == APMATRIX_CLAIM_LEFT && (!drv || !strcmp(drv, "vfio_ap")))
			printf("%02x.%04x: %s: a VM cannot have it until it is bound to apmatrix\n",
			       a, d, why);
		else
			continue;
		n++;
	}
	return n;
}

static int reserve_release(struct cli *cli, struct args *a, bool reserve)
{
	struct apmatrix_matrix *want, *before = NULL, *after = NULL;
	const struct apmatrix_apqns *coll;
	struct apmatrix_apqns *absent = NULL;
	struct apmatrix_host *host = NULL;
	struct apmatrix_plan *plan = NULL;
	struct apmatrix_claim *claim = NULL;
	unsigned int flags = a->no_rebind ? APMATRIX_CLAIM_NO_REBIND : 0;
	bool usage_given;
	char *text;
	int err, rc;

	if (a->control) {
		errmsg("%s: --control-domains has no meaning here: control domains are not reserved",
		       cli->cmd);
		return RC_USAGE;
	}
	if (a->no_rebind && a->dry_run) {
		errmsg("%s: --no-rebind has no meaning with --dry-run: nothing is bound or written",
		       cli->cmd);
		return RC_USAGE;
	}
	if (!a->apqns && !a->adapters && !a->domains) {
		errmsg("%s: no APQNs given (APQNS or --adapters/--domains)",
		       cli->cmd);
		return RC_USAGE;
	}
	if (cli->env_err[0]) {	/* APMATRIX_LOCK/SETTLE_TIMEOUT */
		errmsg("%s: %s", cli->cmd, cli->env_err);
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
	/* the masks change for queues the host does not have too: say so */
	absent = absent_apqns(host, want);
	if (!absent) {
		errmsg("out of memory");
		goto out;
	}

	if (a->dry_run && reserve)	/* what the queues' drivers now say it would do */
		flags |= APMATRIX_CLAIM_DRY_RUN;
	if (a->json && ((!reserve && apmatrix_plan_is_noop(plan)) || a->dry_run)) {
		err = reserve ? apmatrix_plan_apply_claim(cli->ctx, host, plan, want,
							  flags, &claim) : 0;
		rc = plan_json(plan, absent, false, claim);
		if (err == 0)
			goto out;
		fflush(stdout);
		goto apply_failed;
	}
	if (a->json) {
		if (reserve)
			err = apmatrix_plan_apply_claim(cli->ctx, host, plan, want,
							flags, &claim);
		else
			err = apmatrix_plan_apply(cli->ctx, plan);
		/* reserve: also true when a failed undo left the masks written */
		rc = plan_json(plan, absent, reserve ? apmatrix_claim_masks_written(claim) :
			       err == 0 && !apmatrix_plan_is_noop(plan), claim);
		if (err == 0)
			goto out;
		/* the document first, then the error */
		fflush(stdout);
		goto apply_failed;
	}
	if (apmatrix_plan_is_noop(plan) && reserve) {
		/* the masks are right; the queues' driver may not be */
		err = apmatrix_plan_apply_claim(cli->ctx, host, plan, want, flags,
						&claim);
		if (err)
			goto apply_failed;
		if (!print_claim(claim, a->dry_run))
			printf("nothing to do: the host's default drivers hold none of these queues\n");
		else if (a->dry_run)
			printf("dry run: nothing written\n");
		rc = RC_OK;
		goto out;
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
	if (apmatrix_apqns_count(absent)) {
		text = FORMAT_ALLOC(apmatrix_apqns_format, absent);
		if (!text) {
			errmsg("out of memory");
			goto out;
		}
		printf("not on this host (the masks change for them all the same): %s\n", text);
		free(text);
	}
	if (a->dry_run) {
		err = reserve ? apmatrix_plan_apply_claim(cli->ctx, host, plan, want,
							  flags, &claim) : 0;
		if (err) {	/* as reserve: the plan, then the refusal alone */
			fflush(stdout);
			goto apply_failed;
		}
		print_claim(claim, true);
		printf("dry run: nothing written\n");
		rc = RC_OK;
		goto out;
	}
	/* Our own lines first, should apply fail after a partial write. */
	fflush(stdout);
	if (reserve)
		err = apmatrix_plan_apply_claim(cli->ctx, host, plan, want, flags,
						&claim);
	else
		err = apmatrix_plan_apply(cli->ctx, plan);
	if (err == 0) {
		print_claim(claim, false);
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
	apmatrix_claim_free(claim);
	apmatrix_apqns_free(absent);
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

static const struct ctl_opt list_opts[] = {
	O_JSON("print JSON (format in apmatrix-ctl(8))"),
	O_COMMON,
	O_END
};

const struct command list_command = {
	.name = "list", .run = cmd_list,
	.usage = "list [--json] [APQNS...]",
	.summary = "show the host's AP adapters and queues and who holds each queue",
	.opts = list_opts, .max_args = -1,
};

static const struct ctl_opt resrel_opts[] = {
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL, "print the plan, write nothing" },
	O_JSON("print the plan and its outcome as JSON\n(format in apmatrix-ctl(8))"),
	O_MATRIX,
	{ "control-domains", required_argument, OPT_CONTROL, "IDS",
	  "refused: control domains are not reserved" },
	O_COMMON,
	O_END
};

static const struct ctl_opt reserve_opts[] = {
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL,
	  "print the plan and the queues it would move from\nvfio_ap or bind; refuse as reserve would; write nothing" },
	{ "no-rebind", no_argument, OPT_NO_REBIND, NULL,
	  "write the masks only: leave queues the bus gave to\nvfio_ap, or to no driver, where they are (and say so)" },
	O_JSON("print the plan and its outcome as JSON\n(format in apmatrix-ctl(8))"),
	O_MATRIX,
	{ "control-domains", required_argument, OPT_CONTROL, "IDS",
	  "refused: control domains are not reserved" },
	O_COMMON,
	O_END
};

const struct command reserve_command = {
	.name = "reserve", .run = cmd_reserve,
	.usage = "reserve [--dry-run] [--no-rebind] [--json] APQNS... | reserve [--dry-run] [--no-rebind] [--json] --adapters IDS --domains IDS",
	.summary = "take queues away from the host's default drivers (apmask/aqmask) and bind them to apmatrix",
	.opts = reserve_opts, .max_args = -1,
};

const struct command release_command = {
	.name = "release", .run = cmd_release,
	.usage = "release [--dry-run] [--json] APQNS... | release [--dry-run] [--json] --adapters IDS --domains IDS",
	.summary = "give queues back to the host's default drivers",
	.opts = resrel_opts, .max_args = -1,
};
