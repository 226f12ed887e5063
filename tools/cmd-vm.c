// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl: the VM commands - set, get, clear, probe, enable-apie -
 * on a KVM VM's fd (--vm-fd, or --pid and pidfd_getfd()).
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

/* RC_OK when the VM holds no usage queue that a control-only set would drop. */
static int control_only_check(struct cli *cli, struct apmatrix_vm *vm)
{
	struct apmatrix_matrix *cur = apmatrix_matrix_new();
	char *text;
	int err, rc = RC_OK;

	if (!cur) {
		errmsg("out of memory");
		return RC_HOST;
	}
	err = apmatrix_vm_get(vm, cur);
	if (err < 0) {
		errmsg("set: --control-domains without APQNs: cannot read the VM's matrix to say which queues it would drop: %s",
		       CTX_MSG(cli, err));
		rc = vm_exit_code(err);
	} else if (apmatrix_matrix_count(cur, APMATRIX_ADAPTERS) &&
		   apmatrix_matrix_count(cur, APMATRIX_DOMAINS)) {
		text = FORMAT_ALLOC(apmatrix_matrix_format_apqns, cur);
		errmsg("set: --control-domains without APQNs would take %s from the VM: name the APQNs it keeps too (or clear it first)",
		       text ? text : "its queues");
		free(text);
		rc = RC_USAGE;
	}
	apmatrix_matrix_free(cur);
	return rc;
}

static int cmd_set(struct cli *cli, struct args *a)
{
	struct apmatrix_matrix *m, *refused_ids = NULL;
	struct apmatrix_apqns *refused = NULL;
	struct apmatrix_explanation *x = NULL;
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
	rc = use_grant(cli, a, vm);
	if (rc)
		goto out;
	if (!usage_given) {
		/*
		 * --control-domains alone replaces the whole matrix with no
		 * usage queue: refuse it when that would take queues from
		 * the VM, naming them, rather than drop them silently.
		 */
		rc = control_only_check(cli, vm);
		if (rc)
			goto out;
	}
	if (a->validate_only)
		flags |= APMATRIX_SET_VALIDATE_ONLY;
	if (a->reset)
		flags |= APMATRIX_SET_RESET;
	err = apmatrix_vm_set(vm, m, flags);
	if (err == 0) {
		if (a->json)
			rc = set_json(a, 0, NULL);
		else if (a->validate_only)
			printf("valid: the kernel accepts this matrix; nothing changed\n");
		if (!a->json)
			rc = RC_OK;
		goto out;
	}
	rc = vm_exit_code(err);
	if (err == -EPERM)	/* the authority rule, not the VM's fd */
		rc = RC_REFUSED;
	if (err == -EIO)
		rc = RC_RESET;
	set_err = err;
	if (err != -ENODEV && err != -EPERM && err != -EADDRNOTAVAIL &&
	    err != -EADDRINUSE && err != -EBUSY && err != -EIO) {
		if (a->json && set_json(a, err, NULL) == RC_OK)
			fflush(stdout);
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
	err = apmatrix_vm_explain_all(vm, m, err, &x);
	if (a->json) {
		int jrc = set_json(a, set_err, x);

		if (jrc)
			rc = jrc;
		fflush(stdout);	/* the document first, then the line */
	}
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
	apmatrix_explanation_free(x);
	apmatrix_matrix_free(refused_ids);
	apmatrix_apqns_free(refused);
	apmatrix_vm_free(vm);
	apmatrix_matrix_free(m);
	return rc;
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

static const struct ctl_opt set_opts[] = {
	{ "validate-only", no_argument, OPT_VALIDATE_ONLY, NULL,
	  "let the kernel check the matrix, change nothing" },
	{ "reset", no_argument, OPT_RESET, NULL, "zeroize every queue of the new matrix" },
	O_JSON("print the outcome as JSON, every refused\nAPQN with its rule (format in apmatrix-ctl(8))"),
	O_MATRIX,
	O_CONTROL,
	O_GRANT_FD,
	O_VM,
	O_COMMON,
	O_END
};

const struct command set_command = {
	.name = "set", .run = cmd_set,
	.usage = "set (--vm-fd N | --pid PID [--vm-fd N]) [--validate-only] [--reset] [--json] [APQNS... | --adapters IDS --domains IDS] [--control-domains IDS] [--grant-fd N]",
	.summary = "replace a VM's whole AP matrix",
	.opts = set_opts, .max_args = -1,
};

static const struct ctl_opt get_opts[] = {
	O_JSON("print JSON (format in apmatrix-ctl(8))"),
	O_VM,
	O_COMMON,
	O_END
};

const struct command get_command = {
	.name = "get", .run = cmd_get,
	.usage = "get (--vm-fd N | --pid PID [--vm-fd N]) [--json]",
	.summary = "show a VM's AP matrix",
	.opts = get_opts, .max_args = 0,
};

static const struct ctl_opt vm_opts[] = {
	O_VM,
	O_COMMON,
	O_END
};

const struct command clear_command = {
	.name = "clear", .run = cmd_clear,
	.usage = "clear (--vm-fd N | --pid PID [--vm-fd N])",
	.summary = "take every queue away from a VM (an empty matrix)",
	.opts = vm_opts, .max_args = 0,
};

const struct command probe_command = {
	.name = "probe", .run = cmd_probe,
	.usage = "probe (--vm-fd N | --pid PID [--vm-fd N])",
	.summary = "say whether the kernel offers the AP matrix attribute for a VM",
	.opts = vm_opts, .max_args = 0,
};

const struct command enable_apie_command = {
	.name = "enable-apie", .run = cmd_enable_apie,
	.usage = "enable-apie (--vm-fd N | --pid PID [--vm-fd N])",
	.summary = "turn on AP interpretation for a VM (KVM_S390_VM_CRYPTO_ENABLE_APIE)",
	.opts = vm_opts, .max_args = 0,
};
