// The CPU's spin-wait hint, which Swift cannot emit by itself. A spinning thread without it
// competes for the execution units of a hyper-thread sibling that is doing the real work
// (measured: the seed MLP's epoch went from 0.47 s to 1.13 s when both threads shared a core).
#ifndef CSPINWAIT_H
#define CSPINWAIT_H

static inline void spin_wait_hint(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
