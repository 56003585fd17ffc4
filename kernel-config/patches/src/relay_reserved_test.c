// SPDX-License-Identifier: GPL-2.0
/*
 * CONFIG_RELAY_RESERVED_TEST: /proc/relayres_test, so the boot tests of the
 * relayres= series can write records from user space without a module.
 *
 *   read            "open generation N cpus C" or "closed: <reason>"
 *   write "!open"   (re)try relayres_open() in overwrite mode: after user
 *                   space saved the previous channel and set its consumed flag
 *   write anything  one RELAYRES_EV_MARKER record holding the bytes, on the
 *                   writing CPU (at most 256 bytes)
 *
 * The channel is opened at boot (late_initcall), which fails with -EBUSY
 * while the previous boot's channel is unsaved: that is what the test checks.
 */
#include <linux/err.h>
#include <linux/init.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/relayres.h>
#include <linux/relayres_layout.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define RELAYRES_TEST_MAX 256

static DEFINE_MUTEX(test_mutex);
static struct relayres_chan *test_chan;	/* under test_mutex */
static int test_err = -ENODEV;

static void test_open(void)
{
	struct relayres_chan *chan = relayres_open("relayres-test", RELAYRES_OPEN_OVERWRITE);

	if (IS_ERR(chan)) {
		test_err = PTR_ERR(chan);
		return;
	}
	test_chan = chan;
	test_err = 0;
}

static int test_show(struct seq_file *m, void *v)
{
	mutex_lock(&test_mutex);
	if (test_chan)
		seq_printf(m, "open generation %llu\n", relayres_generation(test_chan));
	else
		seq_printf(m, "closed: error %d\n", test_err);
	mutex_unlock(&test_mutex);
	return 0;
}

static int test_proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, test_show, NULL);
}

static ssize_t test_write(struct file *file, const char __user *ubuf, size_t len, loff_t *pos)
{
	char buf[RELAYRES_TEST_MAX];
	ssize_t ret = len;

	if (len > sizeof(buf))
		return -EFBIG;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	mutex_lock(&test_mutex);
	if (len >= 5 && !memcmp(buf, "!open", 5)) {
		if (!test_chan)
			test_open();
		if (!test_chan)
			ret = test_err;
	} else if (!test_chan) {
		ret = test_err ? test_err : -ENODEV;
	} else {
		int err = relayres_write(test_chan, RELAYRES_EV_MARKER, buf, len);

		if (err)
			ret = err;
	}
	mutex_unlock(&test_mutex);
	return ret;
}

static const struct proc_ops test_ops = {
	.proc_open	= test_proc_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_release	= single_release,
	.proc_write	= test_write,
};

static int __init relayres_test_init(void)
{
	mutex_lock(&test_mutex);
	test_open();
	mutex_unlock(&test_mutex);
	if (!proc_create("relayres_test", 0600, NULL, &test_ops))
		return -ENOMEM;
	return 0;
}
late_initcall(relayres_test_init);
