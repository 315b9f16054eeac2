// Training runs with denormal floats flushed to zero (x86's FTZ and DAZ), as TensorFlow's CPU
// thread pools run. On Intel CPUs an SSE or AVX operation with a denormal input or result takes a
// microcode assist: an Adam step over 100,000 parameters whose first moments had decayed into the
// denormals (a pixel that is rarely lit: m shrinks by β₁ = 0.9 a step) took 14 ms instead of 0.21 ms
// on a Sapphire Rapids core, and the seed MLP spent a third of its time there. A value below 1.2e-38
// is far below anything a Float32 weight can notice (w − α·m/(√v + ε) rounds to w either way).
//
// The mode is the calling thread's; `ThreadPool` runs every chunk of a loop in its caller's mode,
// so a result does not depend on which thread computed it.
import CKernels

/// Runs `body` with denormals flushed to zero on this thread, then restores the thread's mode.
@inline(__always)
public func withDenormalsFlushed<R>(_ body: () throws -> R) rethrows -> R {
    let before = ck_flush_denormals()
    ck_set_flush_denormals(1)
    defer { ck_set_flush_denormals(before) }
    return try body()
}
