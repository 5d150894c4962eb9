/* vmgui e2e test guest: a multiboot kernel that fills its RAM, keeps dirtying
 * pages and prints a heartbeat counter on COM1 (0x3f8).
 *
 * Serial output:  "BOOT mem=<KiB>"  "FILLED"  "HB <n>" (about 10 per second)
 * Serial input: every byte received on COM1 is echoed back (polled LSR data-ready bit).
 * Kernel command line (multiboot): "poweroff=<n>" powers off through ACPI
 * after heartbeat n (a guest-initiated shutdown), "quiet" prints only every
 * tenth heartbeat, "idle" halts after FILLED (a guest that takes no CPU).
 */
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef unsigned long long u64;

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }

static void putc(char c) {
    for (int i = 0; i < 100000 && !(inb(0x3f8 + 5) & 0x20); i++) {}
    outb(0x3f8, (u8)c);
}
static void puts(const char *s) { while (*s) putc(*s++); }
static void putu(u32 v) {
    char buf[12]; int i = 0;
    do { buf[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) putc(buf[--i]);
}

static u32 parse_opt(const char *cmd, const char *key) {
    /* value of "key=<digits>" in cmd, 0 if absent */
    for (const char *p = cmd; p && *p; p++) {
        const char *k = key, *q = p;
        while (*k && *q == *k) { k++; q++; }
        if (!*k && *q == '=') {
            u32 v = 0; q++;
            while (*q >= '0' && *q <= '9') v = v * 10 + (u32)(*q++ - '0');
            return v;
        }
    }
    return 0;
}
static int has_word(const char *cmd, const char *w) {
    for (const char *p = cmd; p && *p; p++) {
        const char *k = w, *q = p;
        while (*k && *q == *k) { k++; q++; }
        if (!*k && (*q == 0 || *q == ' ')) return 1;
    }
    return 0;
}

#define PAGE 4096u
#define LOW (4u << 20)        /* leave the kernel and the loader's data alone */

void kmain(u32 magic, struct mb_info *mb) {
    u32 mem_kib = 32 * 1024, poweroff = 0, quiet = 0;
    const char *cmd = 0;
    if (magic == 0x2BADB002 && mb) {
        if (mb->flags & 1) mem_kib = mb->mem_upper + 1024;
        if (mb->flags & 4) cmd = (const char *)mb->cmdline;
    }
    poweroff = parse_opt(cmd, "poweroff");
    quiet = has_word(cmd, "quiet");
    puts("BOOT mem="); putu(mem_kib); puts("\n");

    u32 top = mem_kib * 1024u - (1u << 20);   /* stay below the top MiB (ACPI tables) */
    volatile u32 *ram = (volatile u32 *)0;
    u32 pages = (top - LOW) / PAGE;
    /* fill: a pattern in every word, so no page is left zero */
    for (u32 a = LOW; a < top; a += 4) ram[a / 4] = a ^ 0x5a5a5a5au;
    puts("FILLED\n");
    if (has_word(cmd, "idle"))
        for (;;) __asm__ volatile("cli; hlt");

    u32 hb = 0, cursor = 0, round = 0;
    u64 last = rdtsc();
    const u64 period = 1ull << 28;           /* ~0.1 s of guest TSC */
    for (;;) {
        for (u32 i = 0; i < 64; i++) {        /* dirty 64 pages per pass */
            u32 page = (cursor * 2654435761u) % pages;
            cursor++;
            ram[(LOW + page * PAGE) / 4 + (round & 1023)] = round ^ cursor;
        }
        round++;
        while (inb(0x3f8 + 5) & 0x01) putc((char)inb(0x3f8));   /* echo COM1 input */
        u64 now = rdtsc();
        if (now - last >= period) {
            last = now;
            hb++;
            if (!quiet || hb % 10 == 0) { puts("HB "); putu(hb); puts("\n"); }
            if (poweroff && hb >= poweroff) {
                puts("POWEROFF\n");
                outw(0x604, 0x2000);          /* ACPI PM1a_CNT: SLP_EN, S5 (QEMU pc/q35) */
                outw(0xb004, 0x2000);         /* older QEMU/bochs location */
            }
        }
    }
}
