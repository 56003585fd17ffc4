/*
 * labinit-flightrec.c - the flight recorder's part of labinit (issue 5),
 * #included by labinit.c (one static binary, built by the lab scripts with
 * `gcc -static labinit.c`); it uses labinit's opt/load_capture_kernel/
 * run_salvage and lab-util.h's say/die/read_file/poweroff.
 */
/* ---------------- flight recorder (issue 5, tests/vm/run-relay-lab.sh) ----
 *    lab.flightrec=panic|reset|bench   load /lab/flightrec.ko with the flightrec.*
 *                       options of the command line, run its load generator
 *                       (lab.flightrec_events=N per CPU), write the marker
 *                       "LAB-LAST-MARKER", then panic (sysrq c) or warm-reset
 *                       (sysrq b). In reset mode the boot after the reset
 *                       finds the module refusing to load (-EBUSY: previous
 *                       channel unsaved), copies the region from /dev/mem to
 *                       /dev/vda, marks it consumed, loads the module again
 *                       (a new generation) and powers off. bench: writes
 *                       lab.flightrec_bench=N to /proc/flightrec/bench
 *                       (relayres_write vs relay_write) and powers off.
 *    lab.relay_copy=SIZE@ADDR  (capture kernel) copy the region from
 *                       /dev/mem to /dev/vda and power off (no vmcore).
 * /dev/vda layout: a 4096-byte text header "FLREC-REGION <size> <addr>\n" and
 * the region's bytes at offset 1 MiB; "FLREC-BOOT1\n" alone marks the first
 * boot of a reset run. */
#define FLREC_DATA_OFF (1u << 20)

static int flightrec_insmod_params(const char *params)
{
    int fd = open("/lab/flightrec.ko", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("open /lab/flightrec.ko");
    int rc = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
    close(fd);
    say("flightrec: finit_module(\"%s\") = %d", params, rc);
    return rc;
}

/* Bad regions must be refused with EINVAL and a message (run-relay-lab.sh
 * checks the kernel log): outside memory, System RAM, not SIZE@ADDR. */
static void flightrec_bad_params(void)
{
    static const char *bad[] = {"relayres=1M@0x40000000000", "relayres=1M@0x1000000",
                                "relayres=bogus", "relayres=1M@0x5000000 subbuf_size=12288"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (flightrec_insmod_params(bad[i]) != -EINVAL)
            die("flightrec accepted %s", bad[i]);
    say("flightrec: bad regions refused");
}

static int flightrec_insmod(void)
{
    char params[512] = "";
    size_t pl = 0;
    for (const char *p = cmdline; p && *p;) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *e = p + strcspn(p, " \n");
        if (e - p > 10 && !strncmp(p, "flightrec.", 10) && pl + (e - p) < sizeof params - 2)
            pl += snprintf(params + pl, sizeof params - pl, "%s%.*s", pl ? " " : "",
                           (int)(e - p - 10), p + 10);
        p = e;
    }
    return flightrec_insmod_params(params);
}

static void flightrec_region(uint64_t *size, uint64_t *addr, const char *spec)
{
    char *end;
    *size = strtoull(spec, &end, 0);
    switch (*end) {
    case 'K': case 'k': *size <<= 10; end++; break;
    case 'M': case 'm': *size <<= 20; end++; break;
    case 'G': case 'g': *size <<= 30; end++; break;
    }
    if (*end != '@')
        die("bad region %s", spec);
    *addr = strtoull(end + 1, NULL, 0);
}

static const char *flightrec_cmdline_region(void)
{
    static char v[64];
    const char *p = cmdline ? strstr(cmdline, "flightrec.relayres=") : NULL;
    if (!p)
        die("no flightrec.relayres= on the command line");
    p += strlen("flightrec.relayres=");
    size_t n = strcspn(p, " \n");
    snprintf(v, sizeof v, "%.*s", (int)(n < sizeof v ? n : sizeof v - 1), p);
    return v;
}

/* The region through /dev/mem (user space, as salvage reads it) to disk. */
static void flightrec_copy_region(const char *spec)
{
    uint64_t size, addr;
    flightrec_region(&size, &addr, spec);
    int dfd = lab_wait_open("/dev/vda", O_RDWR);
    int mfd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
    if (mfd < 0)
        die("open /dev/mem");
    char *buf = malloc(size);
    if (!buf || pread(mfd, buf, size, addr) != (ssize_t)size)
        die("read %llu bytes of /dev/mem at %#llx", (unsigned long long)size,
            (unsigned long long)addr);
    close(mfd);
    char hdr[HDR_SIZE];
    memset(hdr, 0, sizeof hdr);
    snprintf(hdr, sizeof hdr, "FLREC-REGION %llu %llu\n", (unsigned long long)size,
             (unsigned long long)addr);
    if (pwrite(dfd, buf, size, FLREC_DATA_OFF) != (ssize_t)size || pwrite(dfd, hdr, sizeof hdr, 0) != sizeof hdr ||
        fsync(dfd))
        die("write the region to /dev/vda");
    close(dfd);
    free(buf);
    say("flightrec: region %s copied from /dev/mem to /dev/vda", spec);
}

static void flightrec_write(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die("write %s to %s", text, path);
    close(fd);
}

static void flightrec_stats(void)
{
    char *s = read_file("/proc/flightrec/stats", NULL);
    for (char *l = s ? strtok(s, "\n") : NULL; l; l = strtok(NULL, "\n"))
        say("flightrec stats: %s", l);
    free(s);
}

/* The boot after a warm reset: the previous channel must still be there. */
static void flightrec_after_reset(void)
{
    const char *spec = flightrec_cmdline_region();
    int rc = flightrec_insmod();
    if (rc != -EBUSY)
        die("flightrec loaded (%d) over the previous boot's unsaved channel", rc);
    say("flightrec: refused to load over the unsaved previous channel (EBUSY)");
    flightrec_copy_region(spec);
    if (access("/lab/salvage", X_OK) == 0) {
        /* As a boot-time unit would: `salvage save` saves the previous
         * boot's channel from /dev/mem and marks it consumed itself. */
        mkdir("/tmp/crash", 0700);
        char *save[] = {"/lab/salvage", "save", "--device", "/dev/vda", "--crash-dir", "/tmp/crash",
                        "--min-free", "1M", NULL};
        say("flightrec: salvage save exited %d", run_salvage(save));
    } else {
        /* Mark it consumed as salvage does: relayres_private.consumed
         * (offset 4 of the last page), through /dev/mem. */
        uint64_t size, addr;
        flightrec_region(&size, &addr, spec);
        int mfd = open("/dev/mem", O_RDWR | O_CLOEXEC);
        uint32_t one = 1;
        if (mfd < 0 || pwrite(mfd, &one, 4, addr + size - 4096 + 4) != 4)
            die("mark the channel consumed through /dev/mem");
        close(mfd);
    }
    rc = flightrec_insmod();
    if (rc)
        die("flightrec did not load after the channel was marked consumed (%d)", rc);
    say("flightrec: loaded again after consumed=1");
    flightrec_stats();
    poweroff();
}

static void flightrec_first_kernel(const char *mode)
{
    int reset = !strcmp(mode, "reset");
    if (reset) {
        int dfd = lab_wait_open("/dev/vda", O_RDWR);
        char stamp[16] = "";
        if (pread(dfd, stamp, 12, 0) != 12)
            die("read /dev/vda");
        if (!memcmp(stamp, "FLREC-BOOT1\n", 12)) {
            close(dfd);
            say("flightrec: second boot after the warm reset");
            flightrec_after_reset();
        }
        if (pwrite(dfd, "FLREC-BOOT1\n", 12, 0) != 12 || fsync(dfd))
            die("write the boot stamp to /dev/vda");
        close(dfd);
    }
    if (!reset && !strcmp(mode, "panic"))
        flightrec_bad_params();
    if (flightrec_insmod())
        die("finit_module flightrec.ko");
    if (!strcmp(mode, "bench")) { /* tests/bench/relay-bench.sh */
        char n[32];
        snprintf(n, sizeof n, "%ld", opt_long("flightrec_bench", 1000000));
        flightrec_write("/proc/flightrec/bench", n);
        char *r = read_file("/proc/flightrec/bench", NULL);
        say("flightrec bench: %s", r ? r : "?");
        poweroff();
    }
    if (!reset)
        load_capture_kernel();
    char n[32];
    snprintf(n, sizeof n, "%ld", opt_long("flightrec_events", 20000));
    say("flightrec: generator %s events per CPU", n);
    flightrec_write("/proc/flightrec/test", n);
    /* No-overwrite mode refuses it once the buffer is full (ENOSPC, counted). */
    int mfd = open("/proc/flightrec/marker", O_WRONLY);
    say("flightrec: last marker write: %s",
        mfd >= 0 && write(mfd, "LAB-LAST-MARKER 424242", 22) == 22 ? "recorded" : strerror(errno));
    if (mfd >= 0)
        close(mfd);
    flightrec_stats();
    say(reset ? "flightrec: warm reset (sysrq b)" : "panicking");
    lab_sysrq(reset ? 'b' : 'c');
}

static void put_all(int fd, const void *p, size_t n)
{
    for (const char *c = p; n;) {
        ssize_t w = write(fd, c, n);
        if (w <= 0)
            die("write /dev/vdb");
        c += w;
        n -= (size_t)w;
    }
}

static void copy_tree(int out, const char *path)
{
    struct stat st;
    if (lstat(path, &st))
        die("lstat %s", path);
    char head[4200];
    int n = snprintf(head, sizeof head, "%c %o %llu %s\n", S_ISDIR(st.st_mode) ? 'D' : 'F',
                     (unsigned)(st.st_mode & 07777),
                     S_ISREG(st.st_mode) ? (unsigned long long)st.st_size : 0ull, path);
    put_all(out, head, (size_t)n);
    if (S_ISREG(st.st_mode)) {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            die("open %s", path);
        static char buf[1 << 20];
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            put_all(out, buf, (size_t)r);
        if (r < 0)
            die("read %s", path);
        close(fd);
    } else if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            die("opendir %s", path);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            copy_tree(out, sub);
        }
        closedir(d);
    }
}

/* lab.copy_out=TYPE:DIR (see the header comment). */
static void copy_out_boot(const char *spec)
{
    char type[32] = "", dir[512] = "";
    if (sscanf(spec, "%31[^:]:%511s", type, dir) != 2 || dir[0] != '/' || !dir[1])
        die("lab.copy_out=%s: expected TYPE:/DIR", spec);
    for (int i = 0; i < 100 && (access("/dev/vda", F_OK) || access("/dev/vdb", F_OK)); i++)
        usleep(100 * 1000);
    mkdir("/mnt", 0755);
    if (mount("/dev/vda", "/mnt", type, MS_RDONLY, NULL))
        die("mount /dev/vda (%s) read-only", type);
    int out = open("/dev/vdb", O_WRONLY);
    if (out < 0)
        die("open /dev/vdb");
    if (chdir("/mnt"))
        die("chdir /mnt");
    copy_tree(out, dir + 1);  /* paths relative to the file system's root */
    put_all(out, "E\n", 2);
    fsync(out);
    close(out);
    if (chdir("/") || umount("/mnt"))
        say("umount /mnt failed (errno %d)", errno);
    say("copy_out of %s (%s) done", dir, type);
    poweroff();
}

