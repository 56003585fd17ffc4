/*
 * lab-util.h - what the lab's static /init programs share: tests/vm/labinit.c
 * (with labinit-flightrec.c, which it #includes), tests/vm/patched-init.c and
 * tests/bench/mdfinit.c. The lab scripts build each as one static binary
 * with `gcc -static -O2 -Wall` (mdfinit.c and patched-init.c with -Werror),
 * so every helper is static inline: a program that does not use one gets
 * no unused-function warning.
 *
 * The including program defines
 *     static int lab_head(char *buf, size_t size);
 * which writes the start of its console lines (tag and clock, e.g.
 * "LAB: [   1.23] ") into buf and returns snprintf's result: each program
 * keeps its own tag, and the hosts' scripts grep for it.
 *
 * Fatal errors (die) print "<head>ERROR: ... (errno N: ...)" and power off;
 * the VMs run with panic=-1 and QEMU -no-reboot, so QEMU then exits.
 * Define _GNU_SOURCE before the first #include of the program.
 */
#ifndef SALVAGE_LAB_UTIL_H
#define SALVAGE_LAB_UTIL_H

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
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int lab_head(char *buf, size_t size);

/* CLOCK_MONOTONIC in seconds: the clock of the kernel's own console
 * timestamps (and of salvage's), which starts at 0 when the kernel boots. */
static inline double lab_uptime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One console line, in a single write(2) on fd 1 so that it is not torn by
 * the program's other output; cut at 1 KiB. */
static inline void lab_vsay(const char *fmt, va_list ap)
{
    char buf[1024];
    int n = lab_head(buf, sizeof buf);
    if (n < 0 || n > (int)sizeof buf - 2)
        n = 0;
    n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    if (n > (int)sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    (void)!write(1, buf, n);
}

__attribute__((format(printf, 1, 2))) static inline void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lab_vsay(fmt, ap);
    va_end(ap);
}

__attribute__((noreturn)) static inline void poweroff(void)
{
    sync();
    reboot(RB_POWER_OFF);
    /* if that failed, exiting init panics; with panic=-1 and qemu
     * -no-reboot the VM still ends */
    _exit(1);
}

__attribute__((format(printf, 1, 2), noreturn)) static inline void die(const char *fmt, ...)
{
    int err = errno;
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    say("ERROR: %s (errno %d: %s)", buf, err, strerror(err));
    poweroff();
}

/* The whole file, NUL-terminated (a /proc file may need several reads);
 * NULL if it cannot be opened. The caller frees it. */
static inline char *read_file(const char *path, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (len == cap) {
            char *bigger = realloc(buf, 2 * cap + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += n;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[len] = 0;
    if (lenp)
        *lenp = len;
    return buf;
}

/* mkdir DST, mount; 0 on success or if something is mounted there already. */
static inline int lab_mount(const char *src, const char *dst, const char *type)
{
    mkdir(dst, 0755);
    return mount(src, dst, type, 0, NULL) && errno != EBUSY ? -1 : 0;
}

/* PID 1's first steps: devtmpfs on /dev, the console as fds 0-2 (a cpio
 * built without root has no /dev/console node, so the kernel started init
 * without stdio), /proc and /sys. Returns NULL, or the mount point that
 * failed (errno says why). */
static inline const char *lab_init_start(void)
{
    lab_mount("devtmpfs", "/dev", "devtmpfs"); /* no console to say it on yet */
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    if (lab_mount("proc", "/proc", "proc"))
        return "/proc";
    if (lab_mount("sysfs", "/sys", "sysfs"))
        return "/sys";
    return NULL;
}

/* finit_module every module listed in /lab/modules.load (paths relative to
 * /, dependencies first: tests/vm/fetch-kernel.sh writes it). */
static inline void lab_load_modules(void)
{
    char *list = read_file("/lab/modules.load", NULL);
    if (!list) {
        say("no /lab/modules.load, assuming drivers are built in");
        return;
    }
    int count = 0;
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        if (!*line || *line == '#')
            continue;
        char path[512];
        snprintf(path, sizeof path, "/%s", line);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("open module %s", path);
        if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)
            die("finit_module %s", path);
        close(fd);
        count++;
    }
    free(list);
    say("loaded %d modules", count);
}

/* Opens a device node that appears once its driver probed (up to 30 s). */
static inline int lab_wait_open(const char *path, int flags)
{
    int fd = -1;
    for (int i = 0; i < 600 && fd < 0; i++) {
        fd = open(path, flags | O_CLOEXEC);
        if (fd < 0)
            usleep(50000);
    }
    if (fd < 0)
        die("%s did not appear", path);
    return fd;
}

/* Runs argv[0] (an absolute path) with argv and envp (NULL: init's own
 * environment), its stdout on out_fd unless that is -1. Returns the wait
 * status, or -1 if it could not be started or waited for. */
static inline int lab_run(char *const argv[], char *const envp[], int out_fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (out_fd >= 0)
            dup2(out_fd, 1);
        if (envp)
            execve(argv[0], argv, envp);
        else
            execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return st;
}

/* Writes C to /proc/sysrq-trigger ('c' panics, 'b' resets at once). The
 * serial console drains asynchronously and the panic or reset stops it: on
 * a loaded host the last lines were lost, so wait until they are out. */
__attribute__((noreturn)) static inline void lab_sysrq(char c)
{
    tcdrain(1);
    usleep(200 * 1000);
    int fd = open("/proc/sysrq-trigger", O_WRONLY);
    if (fd < 0)
        die("open /proc/sysrq-trigger");
    (void)!write(fd, &c, 1);
    die("still alive after sysrq-trigger %c", c);
}

#endif /* SALVAGE_LAB_UTIL_H */
