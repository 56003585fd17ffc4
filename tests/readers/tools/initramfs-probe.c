// SPDX-License-Identifier: GPL-2.0-or-later
// Test-only PID 1 for tests/readers/initramfs-lab.sh: boots from an
// initramfs built by `salvage mkinitramfs --salvage <this>`, and proves the
// archive works in the real kernel: the config is where the agent will look,
// every module in /etc/salvage.modules loads with finit_module in the listed
// order, and the virtio disk appears. Prints PROBE: lines on the console,
// then powers off. Built static by the test script.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[1 << 16];

static int slurp(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return (int)n;
}

static void off(void) {
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

int main(void) {
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  printf("PROBE: init running\n");
  if (slurp("/etc/salvage.conf") < 0) {
    printf("PROBE: FAIL no /etc/salvage.conf\n");
    off();
  }
  char *t = strstr(buf, "\ntarget=");
  if (t) {
    char *e = strchr(t + 1, '\n');
    if (e) *e = 0;
    printf("PROBE: config %s\n", t + 1);
  }
  if (slurp("/etc/salvage.modules") < 0) {
    printf("PROBE: FAIL no /etc/salvage.modules\n");
    off();
  }
  int loaded = 0, failed = 0;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    if (line[0] != '/') continue;
    int fd = open(line, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
      printf("PROBE: FAIL module %s: %s\n", line, strerror(errno));
      ++failed;
    } else {
      printf("PROBE: loaded %s\n", line);
      ++loaded;
    }
    if (fd >= 0) close(fd);
  }
  printf("PROBE: modules loaded=%d failed=%d\n", loaded, failed);
  struct stat st;
  int i;
  for (i = 0; i < 100 && stat("/sys/class/block/vda", &st) != 0; ++i) usleep(100000);
  printf(i < 100 ? "PROBE: disk vda present\n" : "PROBE: FAIL disk vda missing\n");
  off();
  return 0;
}
