/*
 * labinit.c - /init of the salvage crash-lab initramfs.
 *
 * Build: gcc -static -O2 -Wall -o labinit labinit.c
 *
 * The same binary runs in both kernels:
 *
 *  first kernel (no /proc/vmcore):
 *    mount proc/sys/devtmpfs/tmpfs, load the modules listed in
 *    /lab/modules.load (in order), start a workload (forked workers holding
 *    anonymous memory made of zero, text and random pages, plus a page-cache
 *    file), load /lab/vmlinuz + /lab/capture.cpio as the crash kernel with
 *    kexec_file_load(KEXEC_FILE_ON_CRASH) using /lab/capture-cmdline, print
 *    "LAB: panicking" and write 'c' to /proc/sysrq-trigger.
 *
 *  capture kernel (/proc/vmcore exists):
 *    load modules, wait for /dev/vda, write a 4096-byte header
 *    ("SALVAGE-LAB-VMCORE\n<size>\n<release>\n", NUL padded) followed by the
 *    bytes of /proc/vmcore at offset 4096, fsync, print
 *    "LAB: vmcore saved N bytes" and power off. All-zero 4 KiB blocks are
 *    skipped (the disk image starts sparse/zeroed), which keeps it sparse.
 *
 * Options on the kernel command line (first kernel):
 *    lab.workers=N      number of worker processes (default 4)
 *    lab.worker_mib=M   MiB of anonymous memory per worker (default 8)
 *    lab.pagecache_mib=P MiB written to /tmp/lab-pagecache.txt (default 4)
 *    lab.nocrash        stop after the workload (debug), then power off
 *    lab.salvage_load   arm with /lab/salvage load instead of kexec_file_load
 *    lab.salvage_save   the boot after a capture: mount /dev/vdb (ext4) on
 *                       /var/crash, run `salvage save --device /dev/vda1`
 *                       twice (the second must save nothing), power off
 *    lab.copy_out=T:DIR the boot after a capture to a file system: mount
 *                       /dev/vda (type T) read-only, write every file under
 *                       DIR to /dev/vdb as "F <mode> <size> <path>\n" +
 *                       bytes (directories "D <mode> 0 <path>\n"), end with
 *                       "E\n"; the host unpacks it (for file systems the
 *                       host cannot read without mounting, like xfs)
 *
 * Every line this program prints starts with "LAB: ". Fatal errors print
 * "LAB: ERROR: ..." and power the machine off.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/fs.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>

#include "lab-util.h" /* say, die, poweroff, read_file, module loading, ... */

#ifndef KEXEC_FILE_ON_CRASH
#define KEXEC_FILE_ON_CRASH 0x00000002
#endif

#define HDR_SIZE 4096
#define HDR_MAGIC "SALVAGE-LAB-VMCORE\n"
#define TEXT_MAGIC "SALVAGE-LAB-TEXT"
#define COPY_BUF (8u << 20)
#define PAGE 4096u

static double t0;

/* "LAB: [seconds since this init started] " */
static int lab_head(char *buf, size_t size)
{
    return snprintf(buf, size, "LAB: [%7.2f] ", lab_uptime() - t0);
}

static char *cmdline;

/* returns value of lab.<name>=..., "" for a bare flag, NULL if absent */
static const char *opt(const char *name)
{
    static char val[256];
    char key[64];
    snprintf(key, sizeof key, "lab.%s", name);
    size_t kl = strlen(key);
    for (const char *p = cmdline; p && *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *e = p + strcspn(p, " \n");
        if ((size_t)(e - p) >= kl && !strncmp(p, key, kl) &&
            (p[kl] == '=' || p + kl == e)) {
            size_t vl = p + kl == e ? 0 : (size_t)(e - p - kl - 1);
            if (vl >= sizeof val)
                vl = sizeof val - 1;
            memcpy(val, p + kl + (vl ? 1 : 0), vl);
            val[vl] = 0;
            return val;
        }
        p = e;
    }
    return NULL;
}

static long opt_long(const char *name, long def)
{
    const char *v = opt(name);
    return v && *v ? strtol(v, NULL, 0) : def;
}

/* ---------------- first kernel ---------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void fill_text(char *p, size_t len, int worker, size_t pageno)
{
    static const char *words[] = {
        "salvage", "vmcore", "kernel", "page", "frame", "memory", "crash",
        "lab", "dump", "recover", "anonymous", "process", "quick", "brown",
        "fox", "jumps", "over", "lazy", "dog", "lorem", "ipsum"};
    size_t off = (size_t)snprintf(p, len, "%s worker=%d page=%zu: ", TEXT_MAGIC,
                                  worker, pageno);
    unsigned w = (unsigned)(worker * 7 + pageno);
    while (off < len) {
        const char *s = words[w++ % (sizeof words / sizeof *words)];
        size_t l = strlen(s);
        if (off + l + 1 > len)
            break;
        memcpy(p + off, s, l);
        off += l;
        p[off++] = (w % 11 == 0) ? '\n' : ' ';
    }
    while (off < len)
        p[off++] = '.';
}

static void worker(int id, size_t bytes, int ready_fd)
{
    char name[16];
    snprintf(name, sizeof name, "lab-worker-%d", id);
    prctl(PR_SET_NAME, name);
    rng_state ^= (uint64_t)(id + 1) * 0x100000001b3ull;
    size_t npages = bytes / PAGE;
    char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED)
        die("worker %d mmap", id);
    size_t nz = 0, nt = 0, nr = 0;
    for (size_t i = 0; i < npages; i++) {
        char *p = m + i * PAGE;
        switch ((i * 2654435761u >> 8) % 3) {
        case 0: /* zero page (allocated, filled with zeros) */
            memset(p, 0, PAGE);
            nz++;
            break;
        case 1:
            fill_text(p, PAGE, id, i);
            nt++;
            break;
        default:
            for (size_t j = 0; j < PAGE; j += 8) {
                uint64_t v = xorshift();
                memcpy(p + j, &v, 8);
            }
            nr++;
        }
    }
    mlock(m, bytes);
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s pid=%d zero=%zu text=%zu random=%zu\n",
                     name, getpid(), nz, nt, nr);
    (void)!write(ready_fd, msg, n);
    close(ready_fd);
    for (;;)
        pause();
}

static void workload(void)
{
    long nworkers = opt_long("workers", 4);
    long mib = opt_long("worker_mib", 8);
    long pc_mib = opt_long("pagecache_mib", 4);
    int pfd[2];
    if (pipe(pfd))
        die("pipe");
    for (long i = 0; i < nworkers; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            close(pfd[0]);
            worker((int)i, (size_t)mib << 20, pfd[1]);
        }
    }
    close(pfd[1]);
    /* page cache: a text file on tmpfs, and read the kernel image through
     * the page cache */
    if (pc_mib > 0) {
        int fd = open("/tmp/lab-pagecache.txt", O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0)
            die("create /tmp/lab-pagecache.txt");
        char *buf = malloc(1 << 20);
        for (long i = 0; i < pc_mib; i++) {
            for (size_t p = 0; p < (1u << 20); p += PAGE)
                fill_text(buf + p, PAGE, 1000, i * 256 + p / PAGE);
            if (write(fd, buf, 1 << 20) != 1 << 20)
                die("write page cache file");
        }
        free(buf);
        close(fd);
    }
    size_t len;
    free(read_file("/lab/vmlinuz", &len));
    /* wait for workers */
    char buf[4096];
    size_t got = 0;
    ssize_t n;
    while ((n = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += n;
    buf[got] = 0;
    close(pfd[0]);
    for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
        say("workload: %s", l);
    say("workload ready: %ld workers x %ld MiB anon, %ld MiB page cache", nworkers,
        mib, pc_mib);
}

/* lab.salvage_load: arm with the project's own `salvage load` (static
 * binary at /lab/salvage) instead of the syscall below; extra arguments,
 * one per line, come from /lab/salvage-load-args (tests/vm/run-agent-lab.sh). */
static void salvage_load(void)
{
    char *argv[64] = {"/lab/salvage", "load", "--kernel", "/lab/vmlinuz",
                      "--initrd", "/lab/capture.cpio", "--state-file",
                      "/tmp/salvage-loaded"};
    int argc = 8;
    char *extra = read_file("/lab/salvage-load-args", NULL);
    for (char *l = extra ? strtok(extra, "\n") : NULL; l && argc < 62; l = strtok(NULL, "\n"))
        argv[argc++] = l;
    argv[argc] = NULL;
    say("running salvage load (%d arguments)", argc);
    int st = lab_run(argv, NULL, -1);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("salvage load failed (status 0x%x)", st);
    char *loaded = read_file("/sys/kernel/kexec_crash_loaded", NULL);
    say("capture kernel loaded by salvage load (kexec_crash_loaded=%c)", loaded ? loaded[0] : '?');
    free(loaded);
    free(extra);
}

static void load_capture_kernel(void)
{
    if (opt("salvage_load")) {
        salvage_load();
        return;
    }
    char *cl = read_file("/lab/capture-cmdline", NULL);
    if (!cl)
        die("read /lab/capture-cmdline");
    cl[strcspn(cl, "\n")] = 0;
    int kfd = open("/lab/vmlinuz", O_RDONLY | O_CLOEXEC);
    if (kfd < 0)
        die("open /lab/vmlinuz");
    int ifd = open("/lab/capture.cpio", O_RDONLY | O_CLOEXEC);
    if (ifd < 0)
        die("open /lab/capture.cpio");
    say("kexec_file_load(ON_CRASH) cmdline: %s", cl);
    if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(cl) + 1, cl,
                (unsigned long)KEXEC_FILE_ON_CRASH))
        die("kexec_file_load (is crashkernel= reserved? see dmesg)");
    close(kfd);
    close(ifd);
    char *loaded = read_file("/sys/kernel/kexec_crash_loaded", NULL);
    say("capture kernel loaded (kexec_crash_loaded=%c)", loaded ? loaded[0] : '?');
    free(loaded);
}

/* Runs /lab/salvage with `args` (NULL-terminated, argv[0] included) and
 * returns its exit status, or -1. */
static int run_salvage(char *const args[])
{
    int st = lab_run(args, NULL, -1);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* lab.salvage_save: the normal boot after a capture, as a systemd unit
 * would run `salvage save` (tests/vm/run-agent-lab.sh). ext4 is built into
 * Debian's cloud kernel, so only the virtio modules are needed. */
static void salvage_save_boot(void)
{
    for (int i = 0; i < 100 && (access("/dev/vda1", F_OK) || access("/dev/vdb", F_OK)); i++)
        usleep(100 * 1000);
    mkdir("/var", 0755);
    mkdir("/var/crash", 0700);
    if (mount("/dev/vdb", "/var/crash", "ext4", 0, NULL))
        die("mount /dev/vdb on /var/crash");
    char *save[] = {"/lab/salvage", "save", "--device", "/dev/vda1", "--crash-dir", "/var/crash",
                    "--min-free", "1M", NULL};
    int first = run_salvage(save);
    say("salvage save exited %d", first);
    int second = run_salvage(save);
    say("second salvage save exited %d", second);
    sync();
    if (umount("/var/crash"))
        die("umount /var/crash");
    say("salvage save boot done (first %d, second %d)", first, second);
    poweroff();
}

#include "labinit-flightrec.c" /* lab.flightrec=, lab.relay_copy= (issue 5) */

static void first_kernel(void)
{
    if (lab_mount("tmpfs", "/tmp", "tmpfs"))
        die("mount tmpfs on /tmp");
    lab_load_modules();
    if (opt("flightrec"))
        flightrec_first_kernel(opt("flightrec"));
    if (opt("salvage_save"))
        salvage_save_boot();
    if (opt("copy_out"))
        copy_out_boot(opt("copy_out"));
    workload();
    if (opt("nocrash")) {
        say("lab.nocrash given, powering off");
        poweroff();
    }
    load_capture_kernel();
    sync();
    say("panicking");
    lab_sysrq('c'); /* after the console drained: salvage load's result, this line */
}

/* ---------------- capture kernel ---------------- */

static int all_zero(const unsigned char *p, size_t n)
{
    const uint64_t *q = (const uint64_t *)p;
    for (size_t i = 0; i < n / 8; i++)
        if (q[i])
            return 0;
    return 1;
}

static void capture_kernel(void)
{
    struct utsname u;
    uname(&u);
    lab_load_modules();
    int dfd = lab_wait_open("/dev/vda", O_WRONLY);
    int vfd = open("/proc/vmcore", O_RDONLY | O_CLOEXEC);
    if (vfd < 0)
        die("open /proc/vmcore");
    struct stat st;
    if (fstat(vfd, &st))
        die("stat /proc/vmcore");
    uint64_t size = st.st_size, disk = 0;
    if (ioctl(dfd, BLKGETSIZE64, &disk))
        die("BLKGETSIZE64");
    say("capture kernel %s: /proc/vmcore is %llu bytes, disk %llu bytes", u.release,
        (unsigned long long)size, (unsigned long long)disk);
    if (disk < size + HDR_SIZE) {
        errno = ENOSPC;
        die("disk too small: need %llu bytes", (unsigned long long)(size + HDR_SIZE));
    }
    unsigned char *buf = mmap(NULL, COPY_BUF, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        die("mmap copy buffer");
    uint64_t off = 0, written = 0, next_report = 256ull << 20;
    double start = lab_uptime();
    while (off < size) {
        ssize_t n = read(vfd, buf, COPY_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read /proc/vmcore at %llu", (unsigned long long)off);
        if (n == 0)
            break;
        for (ssize_t b = 0; b < n; b += PAGE) {
            size_t len = (size_t)(n - b) < PAGE ? (size_t)(n - b) : PAGE;
            if (all_zero(buf + b, len))
                continue;
            /* coalesce a run of non-zero blocks into one write */
            ssize_t e = b + len;
            while (e < n) {
                size_t l2 = (size_t)(n - e) < PAGE ? (size_t)(n - e) : PAGE;
                if (all_zero(buf + e, l2))
                    break;
                e += l2;
            }
            if (pwrite(dfd, buf + b, e - b, HDR_SIZE + off + b) != e - b)
                die("write /dev/vda at %llu", (unsigned long long)(HDR_SIZE + off + b));
            written += e - b;
            b = e - PAGE; /* loop adds PAGE */
        }
        off += n;
        if (off >= next_report) {
            say("copied %llu MiB", (unsigned long long)(off >> 20));
            next_report += 256ull << 20;
        }
    }
    if (off != size) {
        errno = EIO;
        die("short read of /proc/vmcore: %llu of %llu", (unsigned long long)off,
            (unsigned long long)size);
    }
    char hdr[HDR_SIZE];
    memset(hdr, 0, sizeof hdr);
    snprintf(hdr, sizeof hdr, "%s%llu\n%s\n", HDR_MAGIC, (unsigned long long)size,
             u.release);
    if (pwrite(dfd, hdr, sizeof hdr, 0) != sizeof hdr)
        die("write header");
    if (fsync(dfd))
        die("fsync /dev/vda");
    close(dfd);
    say("copy took %.1fs, %llu non-zero bytes written", lab_uptime() - start,
        (unsigned long long)written);
    say("vmcore saved %llu bytes", (unsigned long long)size);
    poweroff();
}

int main(void)
{
    t0 = lab_uptime();
    const char *unmounted = lab_init_start();
    if (unmounted)
        die("mount %s", unmounted);
    cmdline = read_file("/proc/cmdline", NULL);
    struct utsname u;
    uname(&u);
    int capture = access("/proc/vmcore", F_OK) == 0;
    say("labinit start: kernel %s, %s", u.release,
        capture ? "capture kernel (/proc/vmcore present)" : "first kernel");
    if (capture && opt("relay_copy")) {
        lab_load_modules();
        flightrec_copy_region(opt("relay_copy"));
        poweroff();
    }
    if (capture)
        capture_kernel();
    else
        first_kernel();
    return 0;
}
