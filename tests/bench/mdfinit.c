/*
 * mdfinit.c - /init of the baseline capture initramfs for capture-bench.sh:
 * what a minimal makedumpfile-based kdump initramfs does, nothing more.
 *
 * Build: gcc -static -O2 -Wall -Werror -o mdfinit mdfinit.c
 *
 * Mount devtmpfs/proc/sysfs, finit_module the modules listed in
 * /lab/modules.load (the lab's virtio set, dependencies first; the same
 * loader as tests/vm/labinit.c), wait for /dev/vda, then run
 *     /usr/bin/makedumpfile -F -c -d 31 /proc/vmcore
 * with stdout on /dev/vda (the flattened stream written raw to the disk),
 * fsync the disk and print
 *     BENCH: [<uptime>] makedumpfile exit <status>: dump complete
 * where <uptime> is CLOCK_MONOTONIC of the capture kernel, the clock the
 * kernel's own console timestamps and salvage's "dump complete" line use.
 * Then power off (QEMU runs with -no-reboot, so it exits).
 */
#define _GNU_SOURCE
#include "../vm/lab-util.h" /* say, die, poweroff, module loading, lab_run */

/* "BENCH: [CLOCK_MONOTONIC] ": the capture kernel's uptime, which
 * capture-bench.sh compares with the kernel's and salvage's timestamps. */
static int lab_head(char *buf, size_t size)
{
    return snprintf(buf, size, "BENCH: [%10.6f] ", lab_uptime());
}

int main(void)
{
    lab_init_start();
    lab_mount("tmpfs", "/tmp", "tmpfs");
    say("baseline capture init starting as pid 1");
    lab_load_modules();
    int disk = lab_wait_open("/dev/vda", O_WRONLY);
    say("running makedumpfile -F -c -d 31 /proc/vmcore > /dev/vda");
    char *argv[] = {"/usr/bin/makedumpfile", "-F", "-c", "-d", "31", "/proc/vmcore", NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", "TMPDIR=/tmp", NULL};
    int st = lab_run(argv, envp, disk);
    int sync_err = fsync(disk) ? errno : 0;
    close(disk);
    if (st == 0 && !sync_err)
        say("makedumpfile exit 0: dump complete");
    else
        say("makedumpfile status 0x%x fsync %d: DUMP FAILED", st, sync_err);
    poweroff();
}
