// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl monitor: follow the AP bus's uevents (cards and queues
 * added, removed, bound, unbound, configured, set online or offline; the
 * bus's apmask/aqmask changes and "bindings complete") through libudev's
 * monitor, and apmatrix's own queue states (apmatrix_state: free, in use
 * PID, resetting, reset failed), one line or one JSON object per event,
 * until SIGINT or SIGTERM.
 *
 * The apmatrix driver does not send a uevent when a queue's state changes
 * (the attribute is a plain sysfs file), so states are read again after
 * every uevent of the queue and every --interval milliseconds.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <json.h>
#include <libudev.h>

#include "apmatrix.h"
#include "ctl-ext.h"

/* every message of monitor's starts "apmatrix-ctl: monitor: " */
#define merr(...) errmsg("monitor: " __VA_ARGS__)

struct mon {
	bool json;
	const char *source;		/* "udev" or "kernel" */
	long interval_ms;		/* state polling, 0: only after uevents */
	char *sysfs_root;
	/* last known apmatrix_state per APQN ("" unknown / no file) */
	char *state[256][256];
};

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL +
	       (unsigned long long)ts.tv_nsec / 1000000ULL;
}

static void now_text(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/*
 * SIGINT/SIGTERM: a handler that only records the signal. They are blocked
 * except while monitor waits (ppoll) or writes its output: a write to a
 * pipe nobody reads blocks for ever, and the signal must still end it (the
 * write then fails with EINTR).
 */
static volatile sig_atomic_t stop_signal;
static sigset_t open_mask;	/* the mask with SIGINT and SIGTERM open */

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void emit(struct mon *m, struct json_object *o, const char *line)
{
	sigset_t blocked;
	char ts[40];

	if (stop_signal) {
		json_object_put(o);
		return;
	}
	now_text(ts, sizeof(ts));
	pthread_sigmask(SIG_SETMASK, &open_mask, &blocked);
	if (m->json) {
		json_object_object_add(o, "time", json_object_new_string(ts));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%s %s\n", ts, line);
	}
	fflush(stdout);
	pthread_sigmask(SIG_SETMASK, &blocked, NULL);
	json_object_put(o);
}

/* "05.0004" -> apid, apqi */
static bool parse_apqn(const char *s, unsigned int *a, unsigned int *d)
{
	char tail;

	return s && sscanf(s, "%2x.%4x%c", a, d, &tail) == 2 && *a <= 255 &&
	       *d <= 255 && strlen(s) == 7;
}

/* Compare a queue's state with the last one known; emit on a change. */
static void check_state(struct mon *m, unsigned int a, unsigned int d, bool quiet)
{
	char apqn[8], st[64], line[200];
	const char *old;
	struct json_object *o;
	long pid = 0;

	snprintf(apqn, sizeof(apqn), "%02x.%04x", a, d);
	queue_attr_line(m->sysfs_root, a, d, "apmatrix_state", st, sizeof(st));
	old = m->state[a][d] ? m->state[a][d] : "";
	if (!strcmp(old, st))
		return;
	if (!quiet) {
		o = json_object_new_object();
		json_object_object_add(o, "event", json_object_new_string("state"));
		json_object_object_add(o, "apqn", json_object_new_string(apqn));
		if (!strncmp(st, "in use ", 7)) {
			pid = strtol(st + 7, NULL, 10);
			json_object_object_add(o, "state", json_object_new_string("in use"));
			json_object_object_add(o, "pid", json_object_new_int64(pid));
		} else {
			json_object_object_add(o, "state", st[0] ?
					       json_object_new_string(st) : NULL);
		}
		json_object_object_add(o, "previous", old[0] ?
				       json_object_new_string(old) : NULL);
		snprintf(line, sizeof(line), "state %s: %s -> %s", apqn,
			 old[0] ? old : "-", st[0] ? st : "-");
		emit(m, o, line);
	}
	free(m->state[a][d]);
	m->state[a][d] = st[0] ? strdup(st) : NULL;
}

/* Read every queue's state (quiet: only remember it). */
static void scan_states(struct mon *m, bool quiet)
{
	char *path = NULL;
	struct dirent *e;
	unsigned int a, d;
	bool seen[256][256] = { { false } };
	DIR *dir;

	if (asprintf(&path, "%s/bus/ap/devices", m->sysfs_root) < 0)
		return;
	dir = opendir(path);
	free(path);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		if (!parse_apqn(e->d_name, &a, &d))
			continue;
		seen[a][d] = true;
		check_state(m, a, d, quiet);
	}
	closedir(dir);
	/* a queue that vanished without its uevent */
	for (a = 0; a < 256; a++)
		for (d = 0; d < 256; d++)
			if (m->state[a][d] && !seen[a][d])
				check_state(m, a, d, quiet);
}

/*
 * The kernel dropped uevents for this monitor: its socket's receive buffer
 * was full (recvmsg() fails once with ENOBUFS; what is still queued comes
 * after). Say so, then read every queue's state again so that the states
 * printed are right again. The bus's own events in between are gone for
 * good: whoever follows them reads the bus again (apmatrix-ctl list).
 */
static void on_lost(struct mon *m)
{
	struct json_object *o = json_object_new_object();
	char line[160];

	json_object_object_add(o, "event", json_object_new_string("lost"));
	json_object_object_add(o, "source", json_object_new_string(m->source));
	snprintf(line, sizeof(line),
		 "lost %s events: the receive buffer overflowed; queue states read again",
		 m->source);
	emit(m, o, line);
	scan_states(m, false);
}

/* One uevent of the AP bus. */
static void on_device(struct mon *m, struct udev_device *dev)
{
	const char *action = udev_device_get_action(dev);
	const char *sysname = udev_device_get_sysname(dev);
	const char *devtype = udev_device_get_property_value(dev, "DEVTYPE");
	const char *driver = udev_device_get_property_value(dev, "DRIVER");
	static const char *const props[] = { "CONFIG", "ONLINE", "APMASK", "AQMASK",
					     "BINDINGS", "COMPLETECOUNT", "INITSCAN",
					     "MODE" };
	struct json_object *o = json_object_new_object();
	char line[512], val[80];
	const char *kind;
	unsigned int a, d, i;
	size_t n;

	if (!action || !sysname || !o) {
		json_object_put(o);
		return;
	}
	if (parse_apqn(sysname, &a, &d))
		kind = "queue";
	else if (!strncmp(sysname, "card", 4))
		kind = "card";
	else if (!strcmp(sysname, "ap"))
		kind = "bus";
	else
		kind = devtype ? devtype : "device";
	json_object_object_add(o, "event", json_object_new_string(action));
	json_object_object_add(o, "device", json_object_new_string(kind));
	if (!strcmp(kind, "queue"))
		json_object_object_add(o, "apqn", json_object_new_string(sysname));
	else if (!strcmp(kind, "card"))
		json_object_object_add(o, "card", json_object_new_string(sysname + 4));
	n = (size_t)snprintf(line, sizeof(line), "%s %s %s", action, kind,
			     !strcmp(kind, "card") ? sysname + 4 : sysname);
	if (driver) {
		json_object_object_add(o, "driver", json_object_new_string(driver));
		n += (size_t)snprintf(line + n, sizeof(line) - n, " driver=%s", driver);
	}
	for (i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		const char *v = udev_device_get_property_value(dev, props[i]);
		char key[32];
		size_t k;

		if (!v)
			continue;
		snprintf(val, sizeof(val), "%s", v);
		val[strcspn(val, "\n")] = '\0';	/* the kernel ends APMASK= in "\n" */
		for (k = 0; props[i][k] && k < sizeof(key) - 1; k++)
			key[k] = (char)(props[i][k] | 0x20);
		key[k] = '\0';
		json_object_object_add(o, key, json_object_new_string(val));
		if (n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%s", key, val);
	}
	emit(m, o, line);
	if (!strcmp(kind, "queue"))
		check_state(m, a, d, false);
}

int cmd_monitor(int argc, char **argv)
{
	struct cmd_getopt g;
	struct mon *m;
	struct udev *udev = NULL;
	struct udev_monitor *mon = NULL;
	struct apmatrix_ctx *ctx = NULL;
	struct sigaction sa, old_int, old_term;
	struct pollfd pfd[1];
	sigset_t mask, old;
	bool handlers = false;
	int c, rc = RC_HOST;
	unsigned long long next_scan;
	char *end;
	unsigned int a, d;

	m = calloc(1, sizeof(*m));
	if (!m) {
		merr("out of memory");
		return RC_HOST;
	}
	m->source = "udev";
	m->interval_ms = 1000;
	command_getopt("monitor", &g);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, g.optstring, g.longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:	/* main.c prints --help from cmd-admin.c's table */
			free(m);
			return RC_OK;
		case OPT_JSON:
			m->json = true;
			break;
		case OPT_KERNEL:
			m->source = "kernel";
			break;
		case OPT_INTERVAL:
			errno = 0;
			m->interval_ms = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || m->interval_ms < 0 ||
			    m->interval_ms > 3600000) {
				merr("--interval '%s': not a number of milliseconds (0 to 3600000)",
				     optarg);
				free(m);
				return RC_USAGE;
			}
			break;
		case OPT_SYSFS_ROOT:
			setenv("APMATRIX_SYSFS_ROOT", optarg, 1);
			break;
		default:	/* ':' or '?' */
			option_error("monitor", c, argv);
			free(m);
			return RC_USAGE;
		}
	}
	if (optind < argc) {
		merr("unexpected argument '%s'", argv[optind]);
		free(m);
		return RC_USAGE;
	}
	ctx = apmatrix_ctx_new();
	if (!ctx || !(m->sysfs_root = strdup(apmatrix_ctx_get_sysfs_root(ctx)))) {
		merr("out of memory");
		goto out;
	}

	/* SIGINT/SIGTERM: see on_stop_signal(); no SA_RESTART, so a blocked
	 * write returns */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	if (pthread_sigmask(SIG_BLOCK, &mask, &old) ||
	    sigaction(SIGINT, &sa, &old_int) < 0 || sigaction(SIGTERM, &sa, &old_term) < 0) {
		merr("sigaction: %s", strerror(errno));
		goto out;
	}
	handlers = true;
	open_mask = old;
	sigdelset(&open_mask, SIGINT);
	sigdelset(&open_mask, SIGTERM);
	udev = udev_new();
	mon = udev ? udev_monitor_new_from_netlink(udev, m->source) : NULL;
	if (!mon) {
		merr("cannot open the %s uevent monitor: %s", m->source, strerror(errno));
		goto out;
	}
	if (udev_monitor_filter_add_match_subsystem_devtype(mon, "ap", NULL) < 0 ||
	    udev_monitor_enable_receiving(mon) < 0) {
		merr("cannot listen to the %s uevent monitor: %s", m->source,
		     strerror(errno));
		goto out;
	}
	scan_states(m, true);
	fprintf(stderr, PROG ": monitor: listening to %s events of the AP bus\n",
		m->source);
	pfd[0] = (struct pollfd){ .fd = udev_monitor_get_fd(mon), .events = POLLIN };
	next_scan = now_ms() + (unsigned long long)m->interval_ms;
	while (!stop_signal) {
		unsigned long long now = now_ms();
		struct timespec ts, *tsp = NULL;
		int n;

		/* states every interval, also while uevents keep coming */
		if (m->interval_ms) {
			if (now >= next_scan) {
				scan_states(m, false);
				next_scan = now + (unsigned long long)m->interval_ms;
			}
			ts.tv_sec = (time_t)((next_scan - now) / 1000);
			ts.tv_nsec = (long)((next_scan - now) % 1000) * 1000000L;
			tsp = &ts;
		}
		if (stop_signal)
			break;
		/* the stop signals are open only inside ppoll: none is missed */
		n = ppoll(pfd, 1, tsp, &open_mask);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			merr("poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents & (POLLIN | POLLERR)) {
			struct udev_device *dev;

			while (!stop_signal) {
				errno = 0;
				dev = udev_monitor_receive_device(mon);
				if (dev) {
					on_device(m, dev);
					udev_device_unref(dev);
				} else if (errno == ENOBUFS) {
					on_lost(m);	/* then what is still queued */
				} else {
					break;	/* EAGAIN: nothing more now */
				}
			}
		}
	}
	rc = RC_OK;	/* asked to stop */
	clearerr(stdout);	/* a write the signal cut short is no error */
out:
	if (handlers) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	udev_monitor_unref(mon);
	udev_unref(udev);
	apmatrix_ctx_free(ctx);
	for (a = 0; a < 256; a++)
		for (d = 0; d < 256; d++)
			free(m->state[a][d]);
	free(m->sysfs_root);
	free(m);
	if (fflush(stdout) || ferror(stdout))
		rc = RC_HOST;
	return rc;
}
