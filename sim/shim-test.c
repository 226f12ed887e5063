// SPDX-License-Identifier: GPL-2.0
/*
 * shim-test - the kernel API stand-ins of sim/shim behave as the kernel's
 * where ap_matrix.c relies on them: workqueues (pending, delayed,
 * non-reentrant, flush, cancel), killable mutexes and wait queues (a
 * client that dies is a fatal signal), the fd table (fget, fd_install,
 * the release after the last fput), capable(), ratelimits. TAP output.
 */
#include "shim.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

unsigned long shim_violations(void);

static int n, failed;

static void ok(bool c, const char *what)
{
	printf("%s %d - %s\n", c ? "ok" : "not ok", ++n, what);
	if (!c)
		failed++;
	fflush(stdout);
}

static unsigned long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000 + (unsigned long)ts.tv_nsec / 1000000;
}

/* ---- workqueues ---- */
static int runs, concurrent, max_concurrent, requeue;
static unsigned long ran_at;
static struct delayed_work dw;
static struct work_struct slow_w;

static void count_fn(struct work_struct *w)
{
	(void)w;
	__atomic_add_fetch(&runs, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ran_at, ms_now(), __ATOMIC_SEQ_CST);
}

static void slow_fn(struct work_struct *w)
{
	int c = __atomic_add_fetch(&concurrent, 1, __ATOMIC_SEQ_CST);

	if (c > __atomic_load_n(&max_concurrent, __ATOMIC_SEQ_CST))
		__atomic_store_n(&max_concurrent, c, __ATOMIC_SEQ_CST);
	usleep(20000);
	__atomic_add_fetch(&runs, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&concurrent, 1, __ATOMIC_SEQ_CST);
	if (__atomic_sub_fetch(&requeue, 1, __ATOMIC_SEQ_CST) > 0)
		queue_work(system_unbound_wq, w);
}

static void test_workqueues(void)
{
	DECLARE_WORK(w, count_fn);
	unsigned long t0;

	runs = 0;
	ok(queue_work(system_wq, &w), "queue_work queues an idle item");
	flush_work(&w);
	ok(__atomic_load_n(&runs, __ATOMIC_SEQ_CST) == 1, "flush_work waits for it to run");

	INIT_DELAYED_WORK(&dw, count_fn);
	runs = 0;
	t0 = ms_now();
	/* a delay far longer than the test's own sleeps, so that neither a
	 * loaded machine nor valgrind can make the timer fire first */
	ok(queue_delayed_work(system_unbound_wq, &dw, msecs_to_jiffies(10000)), "queue_delayed_work 10 s");
	ok(!queue_delayed_work(system_unbound_wq, &dw, 1), "queueing a pending item again is a no-op");
	usleep(50000);
	ok(__atomic_load_n(&runs, __ATOMIC_SEQ_CST) == 0, "not run before its delay");
	flush_delayed_work(&dw);
	ok(__atomic_load_n(&runs, __ATOMIC_SEQ_CST) == 1 &&
	   __atomic_load_n(&ran_at, __ATOMIC_SEQ_CST) - t0 < 5000, "flush_delayed_work runs it now");

	ok(queue_delayed_work(system_unbound_wq, &dw, msecs_to_jiffies(10000)), "queued again");
	ok(cancel_delayed_work_sync(&dw), "cancel_delayed_work_sync says it was pending");
	usleep(150000);
	ok(__atomic_load_n(&runs, __ATOMIC_SEQ_CST) == 1, "a cancelled item does not run");

	/* requeued from its own function while others are free: never two at once */
	INIT_WORK(&slow_w, slow_fn);
	runs = 0;
	requeue = 5;
	queue_work(system_unbound_wq, &slow_w);
	usleep(5000);
	queue_work(system_unbound_wq, &slow_w);	/* while running: pending again */
	while (__atomic_load_n(&requeue, __ATOMIC_SEQ_CST) > 0 || work_busy(&slow_w))
		usleep(5000);
	ok(__atomic_load_n(&max_concurrent, __ATOMIC_SEQ_CST) == 1, "a work item never runs twice at once");
	ok(__atomic_load_n(&runs, __ATOMIC_SEQ_CST) >= 5, "requeued items run");
	ok(shim_work_outstanding() == 0, "nothing left queued");
}

/* ---- killable locks, wait queues, fatal signals ---- */
static DEFINE_MUTEX(held_mtx);
static DECLARE_WAIT_QUEUE_HEAD(wq);
static int cond_flag;
static int sp[2];

struct res { int lock_rc; long wait_rc, sleep_rc; };

static void *client(void *arg)
{
	struct res *r = arg;
	struct task_struct t;

	shim_task_enter(&t, 4242, 1000, 1000, 0, true, sp[1]);
	r->lock_rc = mutex_lock_killable(&held_mtx);
	if (!r->lock_rc)
		mutex_unlock(&held_mtx);
	r->wait_rc = wait_event_killable_timeout(wq, READ_ONCE(cond_flag), msecs_to_jiffies(1000));
	r->sleep_rc = schedule_timeout_killable(msecs_to_jiffies(5000));
	shim_task_leave(&t);
	return NULL;
}

static void test_killable(void)
{
	struct res r = { 1, 1 };
	pthread_t th;
	long rc;

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
	mutex_lock(&held_mtx);
	pthread_create(&th, NULL, client, &r);
	usleep(50000);
	close(sp[0]);		/* the client dies */
	pthread_join(th, NULL);
	mutex_unlock(&held_mtx);
	close(sp[1]);
	ok(r.lock_rc == -EINTR, "mutex_lock_killable: -EINTR when the client dies while waiting");
	ok(r.wait_rc == -ERESTARTSYS, "wait_event_killable_timeout: -ERESTARTSYS then too");
	ok(r.sleep_rc > 0, "schedule_timeout_killable ends early for a dead client");
	ok(schedule_timeout_killable(msecs_to_jiffies(2)) == 0 && msecs_to_jiffies(1) == 1,
	   "schedule_timeout_killable sleeps its time out; msecs_to_jiffies rounds up");

	rc = wait_event_timeout(wq, READ_ONCE(cond_flag), msecs_to_jiffies(30));
	ok(rc == 0, "wait_event_timeout: 0 on timeout");
	WRITE_ONCE(cond_flag, 1);
	wake_up_all(&wq);
	rc = wait_event_timeout(wq, READ_ONCE(cond_flag), 100);
	ok(rc > 0, "wait_event_timeout: > 0 when the condition holds");
	ok(mutex_lock_killable(&held_mtx) == 0, "mutex_lock_killable takes a free mutex");
	mutex_unlock(&held_mtx);
}

/* ---- files, creds ---- */
static int released;
static int rel(struct inode *i, struct file *f)
{
	(void)i;
	(void)f;
	__atomic_add_fetch(&released, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void show(struct seq_file *m, struct file *f)
{
	seq_printf(m, "apm:\t%s\n", (const char *)f->private_data);
}

static const struct file_operations fops = { .release = rel, .show_fdinfo = show };

static void test_files(void)
{
	struct task_struct t;
	struct file *f, *g;
	char buf[64];
	int fd;

	shim_task_enter(&t, 4243, 0, 0, 1ULL << CAP_SYS_ADMIN, true, -1);
	ok(capable(CAP_SYS_ADMIN), "capable() with CAP_SYS_ADMIN in the host's namespace");
	fd = get_unused_fd_flags(O_CLOEXEC);
	f = anon_inode_getfile("apmatrix-grant", &fops, "0x80", O_RDWR);
	ok(fd >= 3 && !IS_ERR(f), "get_unused_fd_flags, anon_inode_getfile");
	fd_install((unsigned int)fd, f);
	g = fget((unsigned int)fd);
	ok(g == f && g->f_op == &fops, "fget finds the installed file");
	ok(fget((unsigned int)fd + 1) == NULL, "fget of an fd not open: NULL");
	shim_show_fdinfo(g, buf, sizeof(buf));
	ok(!strcmp(buf, "apm:\t0x80\n"), "show_fdinfo through seq_printf");
	fput(g);
	shim_task_leave(&t);	/* closes the table: the last reference */
	shim_fput_flush();
	/*
	 * release() may run on the shim's worker thread: poll with atomic
	 * loads (a plain read after a sleep is a data race TSan reports),
	 * bounded, then give a second call the time to show up.
	 */
	for (int i = 0; i < 200 && !__atomic_load_n(&released, __ATOMIC_SEQ_CST); i++)
		usleep(10000);
	usleep(20000);
	ok(__atomic_load_n(&released, __ATOMIC_SEQ_CST) == 1,
	   "release() runs once after the last fput");

	shim_task_enter(&t, 4244, 65534, 65534, 0, true, -1);
	ok(!capable(CAP_SYS_ADMIN), "no capable() without the capability");
	shim_task_leave(&t);
	shim_task_enter(&t, 4245, 0, 0, ~0ULL, false, -1);
	ok(!capable(CAP_SYS_ADMIN), "no capable() in another user namespace");
	shim_task_leave(&t);
}

static void test_ratelimit(void)
{
	DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 3);
	int i, pass = 0;

	for (i = 0; i < 10; i++)
		pass += __ratelimit(&rs);
	ok(pass == 3, "__ratelimit lets the burst through");
}

int main(void)
{
	test_workqueues();
	test_killable();
	test_files();
	test_ratelimit();
	ok(shim_violations() == 0, "no violation counted");
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
