// SPDX-License-Identifier: GPL-2.0
/*
 * apsimd - a simulated s390 host running the real arch/s390/kvm/ap_matrix.c.
 *
 *   APMATRIX_SIM_SOCKET=/path/sock apsimd [options] TREE
 *
 * TREE is a sysfs fixture (TREE/bus/ap, TREE/devices/ap: what
 * tests/fixtures/mkfixture.py writes and libapmatrix reads under
 * APMATRIX_SYSFS_ROOT). apsimd loads the AP bus from it (limits, masks,
 * queues and their drivers), registers the apmatrix driver's host
 * operations with ap_matrix.c, and keeps the tree in step with every change
 * it makes (masks, driver bindings, devices that leave).
 *
 * Clients: see apsim-proto.h. Each VM is one connection, destroyed when its
 * last fd is closed. Control commands (apsimctl) inject host events.
 *
 * Options:
 *   --reset-interval MS   TAPQ poll interval of the reset wait (default 20)
 *   --reset-polls N       polls a SET waits for its resets (ap_matrix.c's default)
 *   --worker-polls N      polls the reset worker goes on before a reset fails
 *   --verbose             echo the kernel log to stderr
 *   --vfio-ap-first       vfio_ap registered before apmatrix (built in): the
 *                         re-probe after a mask write gives it the queues
 * On start it prints "apsimd: ready" on stdout once the socket listens.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "apsim-proto.h"
#include "simhost.h"

struct vm_entry {
	struct sim_vm *vm;
	int id;
	uint64_t inode;		/* the client's end of the VM socket */
	int fd;			/* the server's end */
	struct vm_entry *next;
};

/* a file of the simulated kernel a client holds: the client has one end of
 * a socketpair (inode), the server the other (fd) */
struct kfile {
	struct sim_file *f;
	uint64_t inode;
	int fd;
	struct kfile *next;
};

struct server {
	char root[PATH_MAX];
	char sock[PATH_MAX];
	int lfd;
	pthread_mutex_t lock;	/* vms */
	pthread_mutex_t tree_lock;	/* host events and the tree writes that follow */
	struct vm_entry *vms;
	pthread_mutex_t files_lock;	/* files */
	struct kfile *files;
	int wake[2];		/* tells the file watcher the list changed */
	int stop;
};

static struct server S = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.tree_lock = PTHREAD_MUTEX_INITIALIZER,
	.files_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- the tree ------------------------------------------------------------ */

static int read_text(const char *rel, char *buf, size_t len)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", S.root, rel);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int write_text(const char *rel, const char *text)
{
	char p[PATH_MAX];
	int fd, rc = 0;
	size_t len = strlen(text);

	snprintf(p, sizeof(p), "%s/%s", S.root, rel);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		chmod(p, 0644);
		fd = open(p, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0444);
	}
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = -EIO;
	close(fd);
	return rc;
}

static void mask_text(const uint64_t m[4], char *buf, size_t len)
{
	snprintf(buf, len, "0x%016llx%016llx%016llx%016llx\n",
		 (unsigned long long)m[0], (unsigned long long)m[1],
		 (unsigned long long)m[2], (unsigned long long)m[3]);
}

static int parse_mask_text(const char *s, uint64_t m[4])
{
	int i, d;

	memset(m, 0, 4 * sizeof(m[0]));
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (i = 0; i < 64 && *s && *s != '\n'; i++, s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (*s | 0x20) - 'a' + 10;
		else
			return -EINVAL;
		m[i / 16] |= (uint64_t)d << (60 - 4 * (i % 16));
	}
	return 0;
}

static void set_id(uint64_t m[4], unsigned int id)
{
	m[id / 64] |= 1ULL << (63 - id % 64);
}

static bool test_id(const uint64_t m[4], unsigned int id)
{
	return m[id / 64] & (1ULL << (63 - id % 64));
}

static const char *drv_name(enum sim_driver d)
{
	switch (d) {
	case SIM_DRV_CEX4QUEUE: return "cex4queue";
	case SIM_DRV_APMATRIX: return "apmatrix";
	case SIM_DRV_VFIO_AP: return "vfio_ap";
	default: return NULL;
	}
}

static int drv_of(const char *name, enum sim_driver *d)
{
	if (!name || !*name || !strcmp(name, "none"))
		*d = SIM_DRV_NONE;
	else if (!strcmp(name, "cex4queue"))
		*d = SIM_DRV_CEX4QUEUE;
	else if (!strcmp(name, "apmatrix"))
		*d = SIM_DRV_APMATRIX;
	else if (!strcmp(name, "vfio_ap"))
		*d = SIM_DRV_VFIO_AP;
	else
		return -EINVAL;
	return 0;
}

static int load_tree(void)
{
	char buf[256], p[PATH_MAX], link[PATH_MAX];
	uint64_t apmask[4], aqmask[4];
	unsigned int max_a = 63, max_d = 15, a, d;
	struct dirent *ce, *qe;
	DIR *cd, *qd;
	enum sim_driver drv;
	ssize_t n;
	int rc;

	if (!read_text("bus/ap/ap_max_adapter_id", buf, sizeof(buf)))
		max_a = (unsigned int)strtoul(buf, NULL, 10);
	if (!read_text("bus/ap/ap_max_domain_id", buf, sizeof(buf)))
		max_d = (unsigned int)strtoul(buf, NULL, 10);
	rc = sim_host_init(max_a, max_d);
	if (rc)
		return rc;
	if (read_text("bus/ap/apmask", buf, sizeof(buf)) || parse_mask_text(buf, apmask) ||
	    read_text("bus/ap/aqmask", buf, sizeof(buf)) || parse_mask_text(buf, aqmask)) {
		fprintf(stderr, "apsimd: %s/bus/ap/apmask or aqmask missing or malformed\n", S.root);
		return -EINVAL;
	}
	sim_host_load_masks(apmask, aqmask);
	if (!read_text("bus/ap/ap_control_domain_mask", buf, sizeof(buf)) &&
	    !parse_mask_text(buf, apmask))
		sim_host_set_control_domains(apmask);
	snprintf(p, sizeof(p), "%s/devices/ap", S.root);
	cd = opendir(p);
	if (!cd) {
		fprintf(stderr, "apsimd: %s: %s\n", p, strerror(errno));
		return -ENOENT;
	}
	while ((ce = readdir(cd))) {
		if (sscanf(ce->d_name, "card%2x", &a) != 1 || strlen(ce->d_name) != 6)
			continue;
		snprintf(p, sizeof(p), "%s/devices/ap/%s", S.root, ce->d_name);
		qd = opendir(p);
		if (!qd)
			continue;
		while ((qe = readdir(qd))) {
			unsigned int qa;

			if (strlen(qe->d_name) != 7 || sscanf(qe->d_name, "%2x.%4x", &qa, &d) != 2 ||
			    qa != a || d > 255)
				continue;
			snprintf(p, sizeof(p), "%s/devices/ap/%s/%s/driver", S.root,
				 ce->d_name, qe->d_name);
			n = readlink(p, link, sizeof(link) - 1);
			drv = SIM_DRV_NONE;
			if (n > 0) {
				link[n] = '\0';
				if (drv_of(strrchr(link, '/') ? strrchr(link, '/') + 1 : link, &drv))
					drv = SIM_DRV_VFIO_AP;	/* another non-default driver */
			}
			sim_host_add_queue(a, d, drv);
			/* vfio_ap's "status": a mediated device has it or not */
			if (drv == SIM_DRV_VFIO_AP) {
				snprintf(p, sizeof(p), "devices/ap/%s/%s/status", ce->d_name,
					 qe->d_name);
				if (!read_text(p, buf, sizeof(buf)))
					sim_host_vfio_ap_assign(a, d, strncmp(buf, "unassigned", 10) != 0);
			}
		}
		closedir(qd);
	}
	closedir(cd);
	sim_host_for_each_changed(NULL, NULL);
	return 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void sync_queue(unsigned int apid, unsigned int apqi,
		       const struct sim_queue_info *qi, void *arg)
{
	char qdir[PATH_MAX], p[PATH_MAX], target[PATH_MAX], name[16], ev[128];
	const char *drv;
	static const char *const drivers[] = { "cex4queue", "apmatrix", "vfio_ap" };
	unsigned int i;

	(void)arg;
	snprintf(name, sizeof(name), "%02x.%04x", apid, apqi);
	snprintf(qdir, sizeof(qdir), "%s/devices/ap/card%02x/%s", S.root, apid, name);
	for (i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/bus/ap/drivers/%s/%s", S.root, drivers[i], name);
		unlink(p);
	}
	if (!qi->exists) {
		rm_rf(qdir);
		snprintf(p, sizeof(p), "%s/bus/ap/devices/%s", S.root, name);
		unlink(p);
		return;
	}
	snprintf(p, sizeof(p), "%s/driver", qdir);
	unlink(p);
	drv = drv_name(qi->driver);
	snprintf(ev, sizeof(ev), "DEVTYPE=ap_queue\n");
	if (drv) {
		snprintf(target, sizeof(target), "../../../../bus/ap/drivers/%s", drv);
		if (symlink(target, p))
			fprintf(stderr, "apsimd: symlink %s: %s\n", p, strerror(errno));
		snprintf(p, sizeof(p), "%s/bus/ap/drivers/%s/%s", S.root, drv, name);
		snprintf(target, sizeof(target), "../../../../devices/ap/card%02x/%s", apid, name);
		if (symlink(target, p) && errno != ENOENT)
			fprintf(stderr, "apsimd: symlink %s: %s\n", p, strerror(errno));
		snprintf(ev, sizeof(ev), "DEVTYPE=ap_queue\nDRIVER=%s\n", drv);
	}
	snprintf(p, sizeof(p), "devices/ap/card%02x/%s/uevent", apid, name);
	write_text(p, ev);
	/* the apmatrix driver's attribute: its text when the tree was written
	 * (clients with the preload library read it live) */
	snprintf(p, sizeof(p), "devices/ap/card%02x/%s/apmatrix_state", apid, name);
	if (qi->driver == SIM_DRV_APMATRIX) {
		char st[64], full[PATH_MAX];
		int mode = sim_queue_attr_mode(apid, apqi, "apmatrix_state");

		if (sim_queue_attr(apid, apqi, "apmatrix_state", st, sizeof(st)) >= 0 &&
		    !write_text(p, st) && mode >= 0) {
			/* the attribute's own mode (0400: root only) */
			snprintf(full, sizeof(full), "%s/%s", S.root, p);
			chmod(full, (mode_t)mode & 0777);
		}
	} else {
		char full[PATH_MAX];

		snprintf(full, sizeof(full), "%s/%s", S.root, p);
		unlink(full);
	}
	/* vfio_ap's attribute (vfio_ap_ops.c status_show()) while it is bound */
	snprintf(p, sizeof(p), "devices/ap/card%02x/%s/status", apid, name);
	if (qi->driver == SIM_DRV_VFIO_AP) {
		write_text(p, qi->mdev_assigned ? "assigned\n" : "unassigned\n");
	} else {
		char full[PATH_MAX];

		snprintf(full, sizeof(full), "%s/%s", S.root, p);
		unlink(full);
	}
	/* the attributes zcrypt adds only while cex4queue is bound */
	if (qi->driver != SIM_DRV_CEX4QUEUE) {
		snprintf(p, sizeof(p), "%s/online", qdir);
		unlink(p);
	} else {
		snprintf(p, sizeof(p), "devices/ap/card%02x/%s/online", apid, name);
		write_text(p, "1\n");
	}
}

/* write what changed in the host back into the tree; tree_lock held */
static void sync_tree(void)
{
	uint64_t apmask[4], aqmask[4];
	char buf[80];

	sim_host_get_masks(apmask, aqmask);
	mask_text(apmask, buf, sizeof(buf));
	write_text("bus/ap/apmask", buf);
	write_text(".fixture/apmask", buf);
	mask_text(aqmask, buf, sizeof(buf));
	write_text("bus/ap/aqmask", buf);
	write_text(".fixture/aqmask", buf);
	sim_host_for_each_changed(sync_queue, NULL);
}

/* adapters / domains leave the configuration */
static void config_remove(const uint64_t apm[4], const uint64_t aqm[4], const uint64_t adm[4])
{
	char buf[80], p[PATH_MAX];
	uint64_t cur[4];
	unsigned int i;

	pthread_mutex_lock(&S.tree_lock);
	sim_host_config_remove(apm, aqm, adm);
	sync_tree();
	for (i = 0; i < 256; i++) {
		if (!test_id(apm, i))
			continue;
		snprintf(p, sizeof(p), "%s/devices/ap/card%02x", S.root, i);
		rm_rf(p);
		snprintf(p, sizeof(p), "%s/bus/ap/devices/card%02x", S.root, i);
		unlink(p);
		snprintf(p, sizeof(p), "%s/bus/ap/drivers/cex4card/card%02x", S.root, i);
		unlink(p);
	}
	if (!read_text("bus/ap/ap_adapter_mask", buf, sizeof(buf)) && !parse_mask_text(buf, cur)) {
		for (i = 0; i < 4; i++)
			cur[i] &= ~apm[i];
		mask_text(cur, buf, sizeof(buf));
		write_text("bus/ap/ap_adapter_mask", buf);
	}
	if (!read_text("bus/ap/ap_usage_domain_mask", buf, sizeof(buf)) && !parse_mask_text(buf, cur)) {
		for (i = 0; i < 4; i++)
			cur[i] &= ~aqm[i];
		mask_text(cur, buf, sizeof(buf));
		write_text("bus/ap/ap_usage_domain_mask", buf);
	}
	if (!read_text("bus/ap/ap_control_domain_mask", buf, sizeof(buf)) && !parse_mask_text(buf, cur)) {
		for (i = 0; i < 4; i++)
			cur[i] &= ~(adm[i] | aqm[i]);
		mask_text(cur, buf, sizeof(buf));
		write_text("bus/ap/ap_control_domain_mask", buf);
	}
	pthread_mutex_unlock(&S.tree_lock);
}

/* ---- control commands ------------------------------------------------------ */

static struct vm_entry *find_vm_id(int id)
{
	struct vm_entry *e;

	for (e = S.vms; e; e = e->next)
		if (e->id == id)
			return e;
	return NULL;
}

static int parse_apqn(const char *s, unsigned int *a, unsigned int *d)
{
	char tail;

	if (!s || sscanf(s, "%x.%x%c", a, d, &tail) != 2 || *a > 255 || *d > 255)
		return -EINVAL;
	return 0;
}

struct out {
	char *buf;
	size_t len, off;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->off >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->off, o->len - o->off, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->off = o->off + (size_t)n < o->len ? o->off + (size_t)n : o->len - 1;
}

static int ctl(char *line, struct out *o)
{
	char *argv[8], *save = NULL, *t;
	int argc = 0, rc = 0;
	unsigned int a, d;

	for (t = strtok_r(line, " \t\n", &save); t && argc < 8; t = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = t;
	if (!argc)
		return -EINVAL;
	if (!strcmp(argv[0], "ping")) {
		outf(o, "pong\n");
	} else if (!strcmp(argv[0], "stats")) {
		struct sim_stats st;

		sim_host_stats(&st);
		outf(o, "vms %lu\nkicks %lu\nset %lu\nget %lu\nhas %lu\nzapq %lu\ntapq %lu\n"
		     "mask_writes %lu\nmask_refused %lu\nviolations %lu\nleaks %lu\nmodule_refs %d\n"
		     "two_crycbs %lu\nzap_other_vm %lu\nzap_host %lu\nclaim_unreset %lu\n"
		     "host_unreset %lu\nlock_violations %lu\n",
		     st.vms, st.kicks, st.set_calls, st.get_calls, st.has_calls, st.zaps, st.tapqs,
		     st.mask_writes, st.mask_refused, st.violations, st.leaks, st.module_refs,
		     st.inv_two_crycbs, st.inv_zap_other_vm, st.inv_zap_host, st.inv_claim_unreset,
		     st.inv_host_unreset, st.lock_violations);
		{
			unsigned long nf = 0;
			struct kfile *k;

			pthread_mutex_lock(&S.files_lock);
			for (k = S.files; k; k = k->next)
				nf++;
			pthread_mutex_unlock(&S.files_lock);
			outf(o, "kernel_files %lu\n", nf);
		}
	} else if (!strcmp(argv[0], "vms")) {
		struct vm_entry *e;

		pthread_mutex_lock(&S.lock);
		for (e = S.vms; e; e = e->next)
			outf(o, "vm%d inode %llu kicks %lu\n", e->id, (unsigned long long)e->inode,
			     sim_vm_kicks(e->vm));
		pthread_mutex_unlock(&S.lock);
	} else if ((!strcmp(argv[0], "vfio-ap-attach") || !strcmp(argv[0], "vfio-ap-detach")) &&
		   argc == 2) {
		struct vm_entry *e;
		int id = atoi(argv[1][0] == 'v' ? argv[1] + 2 : argv[1]);

		pthread_mutex_lock(&S.lock);
		e = find_vm_id(id);
		rc = e ? sim_vm_vfio_ap(e->vm, argv[0][8] == 'a') : -ENOENT;
		pthread_mutex_unlock(&S.lock);
	} else if ((!strcmp(argv[0], "crycb") || !strcmp(argv[0], "events")) && argc == 2) {
		struct vm_entry *e;
		int id = atoi(argv[1][0] == 'v' ? argv[1] + 2 : argv[1]);

		pthread_mutex_lock(&S.lock);
		e = find_vm_id(id);
		if (!e) {
			rc = -ENOENT;
		} else if (argv[0][0] == 'c') {
			struct sim_masks m;
			char x[80];
			bool apie;

			sim_vm_crycb(e->vm, &m, &apie);
			mask_text(m.apm, x, sizeof(x));
			outf(o, "apm %s", x);
			mask_text(m.aqm, x, sizeof(x));
			outf(o, "aqm %s", x);
			mask_text(m.adm, x, sizeof(x));
			outf(o, "adm %s", x);
			outf(o, "apie %d\nkicks %lu\n", apie, sim_vm_kicks(e->vm));
		} else {
			o->off += sim_vm_events(e->vm, o->buf + o->off, o->len - o->off);
			if (o->off >= o->len)
				o->off = o->len - 1;
		}
		pthread_mutex_unlock(&S.lock);
	} else if (!strcmp(argv[0], "dmesg")) {
		o->off += sim_host_dmesg(o->buf + o->off, o->len - o->off);
		if (o->off >= o->len)
			o->off = o->len - 1;
	} else if (!strcmp(argv[0], "queue") && argc == 2) {
		struct sim_queue_info qi;

		if (parse_apqn(argv[1], &a, &d))
			return -EINVAL;
		sim_host_queue_info(a, d, &qi);
		outf(o, "exists %d\ndriver %s\ndefault %d\nzaps %lu\nresets %lu\ndata %d\nresetting %d\n",
		     qi.exists, drv_name(qi.driver) ? drv_name(qi.driver) : "none",
		     qi.default_owned, qi.zaps, qi.resets, qi.guest_data, qi.resetting);
	} else if ((!strcmp(argv[0], "remove-adapter") || !strcmp(argv[0], "remove-domain") ||
		    !strcmp(argv[0], "remove-control-domain")) && argc == 2) {
		uint64_t apm[4] = { 0 }, aqm[4] = { 0 }, adm[4] = { 0 };
		char *end;
		unsigned long id = strtoul(argv[1], &end, 16);

		if (*end || id > 255)
			return -EINVAL;
		set_id(argv[0][7] == 'a' ? apm : argv[0][7] == 'd' ? aqm : adm, (unsigned int)id);
		config_remove(apm, aqm, adm);
	} else if (!strcmp(argv[0], "unbind") && (argc == 2 || argc == 3)) {
		struct sim_queue_info qi;
		enum sim_driver drv;

		if (parse_apqn(argv[1], &a, &d) || (argc == 3 && drv_of(argv[2], &drv)))
			return -EINVAL;
		pthread_mutex_lock(&S.tree_lock);
		/* DRIVER/unbind: the driver core's unbind_store() wants the
		 * device bound to that driver (-ENODEV otherwise) */
		sim_host_queue_info(a, d, &qi);
		if (argc == 3 && (!qi.exists || qi.driver != drv))
			rc = -ENODEV;
		else
			rc = sim_host_unbind(a, d);
		sync_tree();
		pthread_mutex_unlock(&S.tree_lock);
	} else if (!strcmp(argv[0], "bind") && argc == 3) {
		enum sim_driver drv;

		if (parse_apqn(argv[1], &a, &d) || drv_of(argv[2], &drv) || drv == SIM_DRV_NONE)
			return -EINVAL;
		pthread_mutex_lock(&S.tree_lock);
		rc = sim_host_bind(a, d, drv);
		sync_tree();
		pthread_mutex_unlock(&S.tree_lock);
	} else if ((!strcmp(argv[0], "vfio-ap-assign") || !strcmp(argv[0], "vfio-ap-unassign")) &&
		   argc == 2) {
		if (parse_apqn(argv[1], &a, &d))
			return -EINVAL;
		pthread_mutex_lock(&S.tree_lock);
		sim_host_vfio_ap_assign(a, d, argv[0][8] == 'a');
		sync_tree();
		pthread_mutex_unlock(&S.tree_lock);
	} else if (!strcmp(argv[0], "fail-bind") && argc == 2) {
		if (parse_apqn(argv[1], &a, &d))
			return -EINVAL;
		sim_host_fail_bind(a, d);
	} else if (!strcmp(argv[0], "vfio-ap-first") && argc == 2) {
		sim_host_set_vfio_ap_first(atoi(argv[1]) != 0);
	} else if (!strcmp(argv[0], "reset-mode") && argc >= 3) {
		enum sim_reset_mode mode;
		unsigned int polls = argc > 3 ? (unsigned int)atoi(argv[3]) : 0;

		if (parse_apqn(argv[1], &a, &d))
			return -EINVAL;
		if (!strcmp(argv[2], "normal"))
			mode = SIM_RESET_NORMAL;
		else if (!strcmp(argv[2], "slow") && argc == 4)
			mode = SIM_RESET_SLOW;
		else if (!strcmp(argv[2], "never"))
			mode = SIM_RESET_NEVER;
		else if (!strcmp(argv[2], "se-busy"))
			mode = SIM_RESET_SE_BUSY;
		else if (!strcmp(argv[2], "se-failed"))
			mode = SIM_RESET_SE_FAILED;
		else
			return -EINVAL;
		sim_host_set_reset_mode(a, d, mode, polls);
	} else if (!strcmp(argv[0], "reset-timing") && argc == 3) {
		sim_host_set_reset_timing(atoi(argv[1]), atoi(argv[2]));
	} else if (!strcmp(argv[0], "worker-polls") && argc == 2) {
		sim_host_set_worker_polls(atoi(argv[1]));
	} else if (!strcmp(argv[0], "flush")) {
		sim_host_flush();
	} else if (!strcmp(argv[0], "attr") && argc == 3) {
		char text[256];
		int n;

		if (parse_apqn(argv[1], &a, &d))
			return -EINVAL;
		n = sim_queue_attr(a, d, argv[2], text, sizeof(text));
		if (n < 0)
			return n;
		outf(o, "%s", text);
	} else if (!strcmp(argv[0], "hold-perms") && argc == 2) {
		rc = sim_host_hold_perms((unsigned int)atoi(argv[1]));
	} else if (!strcmp(argv[0], "fail-alloc") && argc == 2) {
		sim_host_fail_alloc(atol(argv[1]));
	} else if (!strcmp(argv[0], "unregister")) {
		sim_host_unregister();
	} else if (!strcmp(argv[0], "register")) {
		rc = sim_host_register();
	} else if (!strcmp(argv[0], "ap-instructions") && argc == 2) {
		sim_host_set_ap_instructions(atoi(argv[1]) != 0);
	} else if (!strcmp(argv[0], "quit")) {
		S.stop = 1;	/* the listener is shut down after the reply */
		outf(o, "bye\n");
	} else {
		return -EINVAL;
	}
	return rc;
}

/* ---- connections ------------------------------------------------------------ */

static int send_reply(int fd, struct apsim_reply *r)
{
	size_t len = offsetof(struct apsim_reply, data) + r->len;
	ssize_t n;

	r->magic = APSIM_MAGIC;
	do {
		n = send(fd, r, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * The sender's credentials as the kernel would see them: pid, uid, gid from
 * SCM_CREDENTIALS (the kernel vouches for them), its effective capabilities
 * and whether its user namespace is ours (the host's) from /proc.
 */
static void read_cred(const struct ucred *uc, struct sim_cred *c)
{
	char p[64], line[256], mine[64], its[64];
	ssize_t n;
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->pid = uc->pid;
	c->uid = uc->uid;
	c->gid = uc->gid;
	snprintf(p, sizeof(p), "/proc/%d/status", (int)uc->pid);
	f = fopen(p, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "CapEff:", 7))
				c->cap_eff = strtoull(line + 7, NULL, 16);
		fclose(f);
	}
	snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)uc->pid);
	n = readlink(p, its, sizeof(its) - 1);
	its[n > 0 ? n : 0] = '\0';
	n = readlink("/proc/self/ns/user", mine, sizeof(mine) - 1);
	mine[n > 0 ? n : 0] = '\0';
	c->init_ns = its[0] && !strcmp(its, mine);
}

struct req_ctx {
	int rfd;		/* the fd the reply goes to (-1: the connection) */
	int xfd;		/* a second fd passed along (a grant), -1 none */
	struct sim_cred cred;
	bool has_cred;
};

/* one request, its fds and its sender's credentials */
static ssize_t recv_req(int fd, struct apsim_req *q, struct req_ctx *x)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { q, sizeof(*q) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	struct ucred uc;
	int fds[2], nfd, i;
	ssize_t n;

	x->rfd = x->xfd = -1;
	x->has_cred = false;
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	for (c = CMSG_FIRSTHDR(&mh); n > 0 && c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (nfd > 2)
				nfd = 2;
			memcpy(fds, CMSG_DATA(c), (size_t)nfd * sizeof(int));
			for (i = 0; i < nfd; i++) {
				if (i == 0)
					x->rfd = fds[0];
				else
					x->xfd = fds[1];
			}
		} else if (c->cmsg_type == SCM_CREDENTIALS) {
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			read_cred(&uc, &x->cred);
			x->has_cred = true;
		}
	}
	if (n > 0 && !x->has_cred) {
		socklen_t len = sizeof(uc);

		/* no SCM_CREDENTIALS (should not happen): the peer's at connect */
		if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len)) {
			read_cred(&uc, &x->cred);
			x->has_cred = true;
		}
	}
	return n;
}

/*
 * May the sender read a file of root's that others may not read? The
 * owner may, and so may CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH in the
 * host's user namespace (capabilities of another namespace do not count
 * for the host's files).
 */
static bool may_read_roots_file(const struct req_ctx *x)
{
	const uint64_t dac = 1ULL << 1 | 1ULL << 2;	/* CAP_DAC_OVERRIDE, _READ_SEARCH */

	return x->has_cred &&
	       (x->cred.uid == 0 || (x->cred.init_ns && (x->cred.cap_eff & dac)));
}

static void close_ctx(struct req_ctx *x)
{
	if (x->rfd >= 0)
		close(x->rfd);
	if (x->xfd >= 0)
		close(x->xfd);
	x->rfd = x->xfd = -1;
}

/* ---- kernel files held by clients ------------------------------------------ */

/* the file a client's fd stands for: its kernel file, else a file of another
 * kind (any open fd the simulated kernel did not make) */
static struct sim_file *file_of_fd(int fd)
{
	struct kfile *k;
	struct stat st;

	if (fstat(fd, &st))
		return NULL;
	pthread_mutex_lock(&S.files_lock);
	for (k = S.files; k; k = k->next) {
		if (S_ISSOCK(st.st_mode) && k->inode == (uint64_t)st.st_ino) {
			struct sim_file *f = sim_file_get(k->f);

			pthread_mutex_unlock(&S.files_lock);
			return f;
		}
	}
	pthread_mutex_unlock(&S.files_lock);
	return sim_file_other();
}

static struct kfile *find_file(uint64_t inode)
{
	struct kfile *k;

	for (k = S.files; k; k = k->next)
		if (k->inode == inode)
			return k;
	return NULL;
}

/* hand a kernel file to the client: returns the client's end (to pass) */
static int publish_file(struct sim_file *f)
{
	struct kfile *k = calloc(1, sizeof(*k));
	struct stat st;
	int sp[2];
	char b = 0;

	if (!k || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		free(k);
		sim_file_put(f);
		return -1;
	}
	fstat(sp[1], &st);
	k->f = f;
	k->inode = (uint64_t)st.st_ino;
	k->fd = sp[0];
	pthread_mutex_lock(&S.files_lock);
	k->next = S.files;
	S.files = k;
	pthread_mutex_unlock(&S.files_lock);
	/* a full pipe is fine: the watcher looks again within 100 ms anyway */
	(void)!write(S.wake[1], &b, 1);
	return sp[1];
}

/* every copy of a client's end closed: drop the server's reference */
static void *file_watcher(void *arg)
{
	struct pollfd pf[1024];
	struct kfile *k, **pp;
	int n, i;
	char b[64];

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&S.files_lock);
		pf[0].fd = S.wake[0];
		pf[0].events = POLLIN;
		for (n = 1, k = S.files; k && n < 1024; k = k->next, n++) {
			pf[n].fd = k->fd;
			pf[n].events = 0;
		}
		pthread_mutex_unlock(&S.files_lock);
		if (poll(pf, (nfds_t)n, 100) < 0)
			continue;
		if (pf[0].revents & POLLIN)
			while (read(S.wake[0], b, sizeof(b)) == (ssize_t)sizeof(b))
				;
		for (i = 1; i < n; i++) {
			if (!(pf[i].revents & (POLLHUP | POLLERR)))
				continue;
			pthread_mutex_lock(&S.files_lock);
			for (pp = &S.files; *pp; pp = &(*pp)->next) {
				if ((*pp)->fd == pf[i].fd) {
					k = *pp;
					*pp = k->next;
					close(k->fd);
					sim_file_put(k->f);
					free(k);
					break;
				}
			}
			pthread_mutex_unlock(&S.files_lock);
		}
	}
	return NULL;
}

/* the grant_fd of a SET payload (struct kvm_s390_ap_matrix, at 100) */
static int payload_grant_fd(const unsigned char *payload, uint32_t len)
{
	int32_t fd;

	if (len < 104)
		return -1;
	memcpy(&fd, payload + 100, sizeof(fd));
	return fd;
}

static void vm_loop(struct vm_entry *e)
{
	struct apsim_req *q = malloc(sizeof(*q));
	struct apsim_reply *r = malloc(sizeof(*r));
	unsigned char payload[APSIM_DATA_MAX], before[APSIM_DATA_MAX];
	struct sim_task *t;
	struct sim_file *gf;
	struct req_ctx x;
	ssize_t n;
	int gfd;

	while (q && r) {
		n = recv_req(e->fd, q, &x);
		if (n <= 0)
			break;
		memset(r, 0, offsetof(struct apsim_reply, data));
		/* the ioctl runs as the task that issued it; a fatal signal is
		 * its death (its end of the reply socket hangs up) */
		t = sim_task_enter(&x.cred, x.rfd);
		if ((size_t)n < offsetof(struct apsim_req, data) || q->magic != APSIM_MAGIC ||
		    q->len > APSIM_DATA_MAX || !t) {
			r->err = -EINVAL;
		} else if (q->op == APSIM_HAS_ATTR) {
			r->err = sim_vm_has_attr(e->vm, q->group, q->attr);
		} else if (q->op == APSIM_SET_ATTR) {
			memset(payload, 0, sizeof(payload));
			memcpy(payload, q->data, q->len);
			memcpy(before, payload, sizeof(before));
			/* the caller's grant_fd refers to the file it passed along */
			gfd = payload_grant_fd(payload, q->len);
			if ((q->flags & APSIM_F_GRANT_FD) && x.xfd >= 0 && gfd >= 0) {
				gf = file_of_fd(x.xfd);
				sim_task_install(t, gfd, gf);
				sim_file_put(gf);
			}
			r->err = sim_vm_set_attr(e->vm, q->group, q->attr,
						 (q->flags & APSIM_F_BADADDR) ? NULL : payload);
			if (memcmp(before, payload, sizeof(before)))
				fprintf(stderr, "apsimd: VIOLATION: KVM_SET_DEVICE_ATTR wrote to the payload\n");
		} else if (q->op == APSIM_GET_ATTR) {
			memset(payload, 0, sizeof(payload));
			r->err = sim_vm_get_attr(e->vm, q->group, q->attr,
						 (q->flags & APSIM_F_BADADDR) ? NULL : payload);
			r->len = q->len <= APSIM_DATA_MAX ? q->len : APSIM_DATA_MAX;
			memcpy(r->data, payload, r->len);
		} else {
			r->err = -ENOTTY;
		}
		sim_task_leave(t);
		send_reply(x.rfd >= 0 ? x.rfd : e->fd, r);
		close_ctx(&x);
	}
	free(q);
	free(r);
}

/* a reply with one fd attached */
static int send_reply_fd(int fd, struct apsim_reply *r, int pass)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { r, offsetof(struct apsim_reply, data) + r->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	r->magic = APSIM_MAGIC;
	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass, sizeof(int));
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)iov.iov_len ? 0 : -EIO;
}

/* /dev/apmatrix's ioctl: a new kernel file goes to the client as a real fd */
static void grant_create(int fd, struct apsim_req *q, struct req_ctx *x, struct apsim_reply *r)
{
	unsigned char payload[APSIM_DATA_MAX];
	struct sim_file *f;
	struct sim_task *t;
	long rc;
	int cfd;

	t = sim_task_enter(&x->cred, fd);
	if (!t) {
		r->err = -ENOMEM;
		send_reply(fd, r);
		return;
	}
	memset(payload, 0, sizeof(payload));
	memcpy(payload, q->data, q->len);
	rc = sim_dev_apmatrix_ioctl((unsigned int)q->group,
				    (q->flags & APSIM_F_BADADDR) ? NULL : payload,
				    (q->flags & APSIM_F_NOWRITE) ? O_RDONLY : O_RDWR);
	if (rc < 0) {
		sim_task_leave(t);
		r->err = (int32_t)rc;
		send_reply(fd, r);
		return;
	}
	/* the ioctl returned an fd of the task: take its file and publish it */
	f = sim_task_take(t, (int)rc);
	sim_task_leave(t);
	cfd = f ? publish_file(f) : -1;
	if (cfd < 0) {
		r->err = -ENOMEM;
		send_reply(fd, r);
		return;
	}
	r->val = rc;
	send_reply_fd(fd, r, cfd);
	close(cfd);
}

static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct apsim_req *q = malloc(sizeof(*q));
	struct apsim_reply *r = malloc(sizeof(*r));
	struct req_ctx x;
	struct out o;
	ssize_t n;

	if (!q || !r)
		goto out;
	n = recv_req(fd, q, &x);
	close_ctx(&x);
	if (n < (ssize_t)offsetof(struct apsim_req, data) || q->magic != APSIM_MAGIC ||
	    q->len > APSIM_DATA_MAX)
		goto out;
	memset(r, 0, offsetof(struct apsim_reply, data));
	q->data[q->len < APSIM_DATA_MAX ? q->len : APSIM_DATA_MAX - 1] = '\0';
	switch (q->op) {
	case APSIM_HELLO_VM: {
		struct vm_entry *e = calloc(1, sizeof(*e));
		struct sim_task *t = sim_task_enter(&x.cred, -1);

		/* KVM_CREATE_VM runs as its caller: the VM's userspace_pid */
		if (e && t)
			e->vm = sim_vm_create((int)q->arg0);
		sim_task_leave(t);
		if (!e || !e->vm) {
			free(e);
			r->err = -EINVAL;
			send_reply(fd, r);
			goto out;
		}
		e->id = sim_vm_id(e->vm);
		e->inode = (uint64_t)q->arg1;
		e->fd = fd;
		pthread_mutex_lock(&S.lock);
		e->next = S.vms;
		S.vms = e;
		pthread_mutex_unlock(&S.lock);
		r->val = e->id;
		send_reply(fd, r);
		vm_loop(e);
		/* EOF: the last copy of the VM fd was closed; the VM is listed
		 * until kvm_arch_destroy_vm() is done with it */
		sim_vm_destroy(e->vm);
		pthread_mutex_lock(&S.lock);
		{
			struct vm_entry **pp;

			for (pp = &S.vms; *pp; pp = &(*pp)->next)
				if (*pp == e) {
					*pp = e->next;
					break;
				}
		}
		pthread_mutex_unlock(&S.lock);
		free(e);
		goto out;
	}
	case APSIM_IS_VM: {
		struct vm_entry *e;

		r->err = -ENOENT;
		pthread_mutex_lock(&S.lock);
		for (e = S.vms; e; e = e->next)
			if (e->inode == (uint64_t)q->arg1) {
				r->err = 0;
				r->val = e->id;
			}
		pthread_mutex_unlock(&S.lock);
		break;
	}
	case APSIM_FILE_INFO: {
		struct vm_entry *e;
		struct kfile *k;
		int off;

		r->err = -ENOENT;
		pthread_mutex_lock(&S.lock);
		for (e = S.vms; e; e = e->next)
			if (e->inode == (uint64_t)q->arg1) {
				r->err = 0;
				r->val = 1;
			}
		pthread_mutex_unlock(&S.lock);
		if (!r->err)
			break;
		pthread_mutex_lock(&S.files_lock);
		k = find_file((uint64_t)q->arg1);
		if (k) {
			off = snprintf(r->data, sizeof(r->data), "%s%c%lu%c", sim_file_name(k->f), 0,
				       sim_file_ino(k->f), 0);
			off += (int)sim_file_fdinfo(k->f, r->data + off, sizeof(r->data) - (size_t)off);
			r->len = (uint32_t)off + 1;
			r->err = 0;
			r->val = 2;
		}
		pthread_mutex_unlock(&S.files_lock);
		break;
	}
	case APSIM_QUEUE_ATTR: {
		unsigned int apid = (unsigned int)(q->arg0 >> 8) & 0xff;
		unsigned int apqi = (unsigned int)q->arg0 & 0xff;
		int mode = sim_queue_attr_mode(apid, apqi, q->data);
		int len;

		/* sysfs: a file of root's with the attribute's mode */
		if (mode >= 0 && !(mode & S_IROTH) && !may_read_roots_file(&x)) {
			r->err = -EACCES;
			break;
		}
		len = sim_queue_attr(apid, apqi, q->data, r->data, sizeof(r->data));
		if (len < 0)
			r->err = len;
		else
			r->len = (uint32_t)len + 1;
		break;
	}
	case APSIM_GRANT_CREATE:
		if (q->len > 1024) {
			r->err = -EINVAL;
			break;
		}
		{
			/* the creds of this request: received again below */
			struct req_ctx cx = x;

			grant_create(fd, q, &cx, r);
		}
		goto out;
	case APSIM_MASK_WRITE:
		pthread_mutex_lock(&S.tree_lock);
		r->err = sim_host_mask_write((int)q->arg0, q->data);
		if (!r->err)
			sync_tree();
		pthread_mutex_unlock(&S.tree_lock);
		break;
	case APSIM_ROOT:
		r->len = (uint32_t)snprintf(r->data, sizeof(r->data), "%s", S.root) + 1;
		break;
	case APSIM_CTL:
		o.buf = r->data;
		o.len = sizeof(r->data);
		o.off = 0;
		r->data[0] = '\0';
		r->err = ctl(q->data, &o);
		r->len = (uint32_t)o.off + 1;
		break;
	default:
		r->err = -ENOTTY;
	}
	send_reply(fd, r);
	if (S.stop)
		shutdown(S.lfd, SHUT_RDWR);
out:
	close(fd);
	free(q);
	free(r);
	return NULL;
}

/*
 * TREE/dev/apmatrix stands for the driver's misc device: root's, mode 0600,
 * as the driver creates it (udev and the administrator may change owner and
 * mode; the preload library opens it with the caller's own permissions).
 */
static void make_dev_node(void)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/dev", S.root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dev/apmatrix", S.root);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

static void usage(void)
{
	fprintf(stderr, "usage: APMATRIX_SIM_SOCKET=PATH apsimd [--reset-interval MS] "
		"[--reset-polls N] [--worker-polls N] [--vfio-ap-first] [--verbose] TREE\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *sock = getenv(APSIM_SOCKET_ENV);
	int interval = -1, polls = -1, worker_polls = -1, i, fd;
	struct rlimit rl;
	pthread_attr_t pa;
	pthread_t th;
	char *tree = NULL;
	bool vfio_first = false;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reset-interval") && i + 1 < argc)
			interval = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reset-polls") && i + 1 < argc)
			polls = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--worker-polls") && i + 1 < argc)
			worker_polls = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--vfio-ap-first"))
			vfio_first = true;
		else if (!strcmp(argv[i], "--verbose"))
			sim_host_set_log_echo(true);
		else if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			sock = argv[++i];
		else if (argv[i][0] != '-' && !tree)
			tree = argv[i];
		else {
			usage();
			return 2;
		}
	}
	if (!tree || !sock || !*sock) {
		usage();
		return 2;
	}
	if (!realpath(tree, S.root)) {
		fprintf(stderr, "apsimd: %s: %s\n", tree, strerror(errno));
		return 1;
	}
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "apsimd: socket path too long: %s\n", sock);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (load_tree())
		return 1;
	sim_host_set_vfio_ap_first(vfio_first);
	sim_host_set_reset_timing(interval, polls);
	sim_host_set_worker_polls(worker_polls);
	if (sim_host_register()) {
		fprintf(stderr, "apsimd: registering the host operations failed\n");
		return 1;
	}
	snprintf(S.sock, sizeof(S.sock), "%s", sock);
	strcpy(sa.sun_path, sock);
	unlink(sock);
	S.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	/* every request carries its sender's credentials (accepted sockets
	 * inherit the option) */
	i = 1;
	if (S.lfd < 0 || setsockopt(S.lfd, SOL_SOCKET, SO_PASSCRED, &i, sizeof(i)) ||
	    bind(S.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(S.lfd, 128)) {
		fprintf(stderr, "apsimd: %s: %s\n", sock, strerror(errno));
		return 1;
	}
	/* clients of any user may connect; what they may do is the kernel's
	 * business (capable(), grants, /dev/apmatrix's mode) */
	chmod(sock, 0666);
	if (pipe2(S.wake, O_CLOEXEC | O_NONBLOCK) ||
	    pthread_create(&th, NULL, file_watcher, NULL)) {
		fprintf(stderr, "apsimd: starting the file watcher failed\n");
		return 1;
	}
	make_dev_node();
	printf("apsimd: ready\n");
	fflush(stdout);
	pthread_attr_init(&pa);
	pthread_attr_setstacksize(&pa, 512 * 1024);
	pthread_attr_setdetachstate(&pa, PTHREAD_CREATE_DETACHED);
	while (!S.stop) {
		fd = accept4(S.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (S.stop)
				break;
			if (errno == EMFILE || errno == ENFILE) {
				usleep(10000);
				continue;
			}
			break;
		}
		if (pthread_create(&th, &pa, conn_thread, (void *)(intptr_t)fd))
			close(fd);
	}
	unlink(S.sock);
	return 0;
}
