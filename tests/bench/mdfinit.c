/*
 * mdfinit.c - /init of the baseline capture initramfs for capture-bench.sh:
 * what a minimal makedumpfile-based kdump initramfs does, nothing more.
 *
 * Build: gcc -static -O2 -Wall -o mdfinit mdfinit.c
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
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double uptime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n = snprintf(buf, sizeof buf, "BENCH: [%10.6f] ", uptime());
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    (void)!write(2, buf, n);
}

static void poweroff(void)
{
    sync();
    reboot(RB_POWER_OFF);
    _exit(1);
}

static void load_modules(void)
{
    FILE *f = fopen("/lab/modules.load", "r");
    char line[512], path[600];
    int count = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!*line || *line == '#')
            continue;
        snprintf(path, sizeof path, "/%s", line);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)) {
            say("ERROR: module %s: %s", path, strerror(errno));
            poweroff();
        }
        close(fd);
        count++;
    }
    if (f)
        fclose(f);
    say("loaded %d modules", count);
}

int main(void)
{
    mkdir("/dev", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    int c = open("/dev/console", O_RDWR | O_NOCTTY);
    if (c >= 0) {
        dup2(c, 0);
        dup2(c, 1);
        dup2(c, 2);
    }
    mkdir("/proc", 0755);
    mkdir("/sys", 0755);
    mkdir("/tmp", 01777);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    say("baseline capture init starting as pid 1");
    load_modules();
    int disk = -1;
    for (int i = 0; i < 600 && disk < 0; i++) {
        disk = open("/dev/vda", O_WRONLY | O_CLOEXEC);
        if (disk < 0)
            usleep(50000);
    }
    if (disk < 0) {
        say("ERROR: /dev/vda did not appear");
        poweroff();
    }
    say("running makedumpfile -F -c -d 31 /proc/vmcore > /dev/vda");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(disk, 1);
        char *argv[] = {"/usr/bin/makedumpfile", "-F", "-c", "-d", "31", "/proc/vmcore", NULL};
        char *envp[] = {"PATH=/usr/bin:/bin", "TMPDIR=/tmp", NULL};
        execve(argv[0], argv, envp);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        st = -1;
    int sync_err = fsync(disk) ? errno : 0;
    close(disk);
    if (st == 0 && !sync_err)
        say("makedumpfile exit 0: dump complete");
    else
        say("makedumpfile status 0x%x fsync %d: DUMP FAILED", st, sync_err);
    poweroff();
    return 0;
}
