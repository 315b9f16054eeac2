// Which build of the C kernels (Sources/CKernels) this CPU runs: decided once per process from the
// CPU's features, so a run uses one code path throughout. The builds compute the same bits; they
// differ in vector width only.
import CKernels

public enum VectorCode: String, Sendable, CaseIterable {
    /// The Swift code (baseline x86-64: 4-float SSE vectors) and OpenBLAS: any CPU.
    case portable
    /// 8-float AVX2/FMA vectors.
    case avx2
    /// 16-float AVX-512 vectors.
    case avx512

    /// This CPU's widest.
    public static let best: VectorCode =
        ck_has_avx2_fma() == 0 ? .portable : ck_has_avx512vl() != 0 ? .avx512 : .avx2

    /// Whether this CPU can run it.
    public var isAvailable: Bool {
        switch self {
        case .portable: true
        case .avx2: ck_has_avx2_fma() != 0
        case .avx512: ck_has_avx2_fma() != 0 && ck_has_avx512vl() != 0
        }
    }

    /// The `wide` argument of the C kernels.
    var wide: Int32 { self == .avx512 ? 1 : 0 }
}
