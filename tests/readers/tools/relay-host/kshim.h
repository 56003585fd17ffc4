/* Just enough of the kernel API for kernel-config/relayres/relayres-core.c
 * to build as an ordinary user-space program (tests/readers/relay-host.sh):
 * CPUs are simulated by a global, IRQ state is irrelevant, crc32_le is
 * zlib's CRC with the kernel's (non-inverting) convention. */
#ifndef KSHIM_H
#define KSHIM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <zlib.h>
/* glibc defines __BIG_ENDIAN as a constant; the kernel only on big-endian
 * machines, which is what relayres-core.h tests. */
#undef __BIG_ENDIAN
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
#define U32_MAX 0xffffffffu
#define ALIGN(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#define smp_wmb() __asm__ __volatile__("" ::: "memory")
#define local_irq_save(f) ((f) = 0)
#define local_irq_restore(f) ((void)(f))
#define unlikely(x) __builtin_expect(!!(x), 0)
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define BUILD_BUG_ON(c) _Static_assert(!(c), #c)
#define GFP_KERNEL 0
extern unsigned int kshim_cpu;
extern int kshim_nmi;
extern u64 kshim_clock;
#define smp_processor_id() kshim_cpu
#define in_nmi() kshim_nmi
static inline u64 local_clock(void) { return kshim_clock += 1000; }
static inline u64 ktime_get_real_ns(void) { return 1700000000000000000ull; }
static const unsigned long jiffies = 4294937296ul;
static inline void *kcalloc(size_t n, size_t s, int f) { (void)f; return calloc(n, s); }
static inline void kfree(void *p) { free(p); }
static inline u32 crc32_le(u32 crc, const void *p, size_t n) { return ~(u32)crc32(~crc & 0xffffffffu, p, n); }
static inline long strscpy(char *d, const char *s, size_t n) { size_t l = strnlen(s, n - 1); memcpy(d, s, l); d[l] = 0; return l; }
#define get_unaligned(p) ({ u64 v_; _Static_assert(sizeof(*(p)) == 8, "u64 only"); memcpy(&v_, (p), 8); v_; })
#endif
