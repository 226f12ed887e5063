// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl: the administrator's commands - apply, diff, sets,
 * udev-env (ctl-config.c) and monitor (ctl-monitor.c). Their option
 * tables live here, so --help, the man page test and bash completion (both
 * read --help) see them as they see every other command; main.c checks
 * the options against these tables and then hands the command its argv.
 */
#include <getopt.h>

#include "ctl.h"
#include "ctl-ext.h"

static const struct ctl_opt apply_opts[] = {
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL, "print what would change, change nothing" },
	{ "kernel-cmdline", no_argument, OPT_KERNEL_CMDLINE, NULL,
	  "print the ap.apmask= and ap.aqmask= kernel\nparameters for the configuration" },
	{ "wait-for-bus", required_argument, OPT_WAIT_BUS, "SECS",
	  "first wait, at most SECS seconds, until the AP\nbus has scanned its devices (at boot)" },
	O_CONFIG_DIR,
	O_COMMON,
	O_END
};

const struct command apply_command = {
	.name = "apply", .run_argv = cmd_apply,
	.usage = "apply [--dry-run] [--wait-for-bus SECS] [--config-dir DIR] | apply --kernel-cmdline [--config-dir DIR]",
	.summary = "make the host match /etc/apmatrix (masks, bindings, /dev/apmatrix)",
	.opts = apply_opts, .max_args = 0,
};

static const struct ctl_opt diff_opts[] = {
	{ "quiet", no_argument, OPT_QUIET, NULL, "print nothing, only the exit code" },
	O_JSON("print JSON (format in apmatrix-ctl(8))"),
	O_CONFIG_DIR,
	O_COMMON,
	O_END
};

const struct command diff_command = {
	.name = "diff", .run_argv = cmd_diff,
	.usage = "diff [--quiet | --json] [--config-dir DIR]",
	.summary = "show how the host differs from /etc/apmatrix; change nothing",
	.opts = diff_opts, .max_args = 0,
};

static const struct ctl_opt sets_opts[] = {
	O_JSON("print JSON (format in apmatrix-ctl(8))"),
	O_CONFIG_DIR,
	O_HELP,
	O_END
};

const struct command sets_command = {
	.name = "sets", .run_argv = cmd_sets,
	.usage = "sets [--json] [--config-dir DIR] [NAME]",
	.summary = "show the configuration's sets of queues (for grants)",
	.opts = sets_opts, .max_args = 1,
};

static const struct ctl_opt udev_env_opts[] = {
	O_CONFIG_DIR,
	O_HELP,
	O_END
};

const struct command udev_env_command = {
	.name = "udev-env", .run_argv = cmd_udev_env,
	.usage = "udev-env [--config-dir DIR]",
	.summary = "print /dev/apmatrix's group and mode for the udev rule",
	.opts = udev_env_opts, .max_args = 0,
};

static const struct ctl_opt monitor_opts[] = {
	O_JSON("one JSON object per line"),
	{ "kernel", no_argument, OPT_KERNEL, NULL,
	  "the kernel's uevents, not udev's (where\nsystemd-udevd does not run)" },
	{ "interval", required_argument, OPT_INTERVAL, "MS",
	  "read apmatrix queue states every MS ms\n(default 1000; 0: only after a uevent)" },
	O_COMMON,
	O_END
};

const struct command monitor_command = {
	.name = "monitor", .run_argv = cmd_monitor,
	.usage = "monitor [--json] [--kernel] [--interval MS]",
	.summary = "print AP bus and apmatrix events as they happen (until SIGINT/SIGTERM)",
	.opts = monitor_opts, .max_args = 0,
};
