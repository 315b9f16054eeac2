// The Winograd convolution's transforms (Winograd.swift has the formulas and the layouts): the
// kernel's U = G g Gᵀ and its adjoint, and the four tile transforms of a block of images. Three
// implementations, of which WinogradConvolution picks one when it is made:
//
//   PortableF4x4Transforms  F(4×4, 3×3) in Swift SIMD8 code (WinogradPortable.swift), any CPU
//   AVX2F4x4Transforms      F(4×4, 3×3): the tile transforms of Sources/CKernels/winograd_f4x4.c,
//                           the kernel transforms of the portable code (once per step, small)
//   AVX2PooledTransforms    pooled outputs only: F(5×5, 3×3) (Sources/CKernels/winograd_f5x5.c) or
//                           F(4×4, 5×5) (winograd_f4x4k5.c), one C source at two tile sizes
//   AVX2StridedTransforms   3×3 at stride 2, unpooled: 4×4 or 7×7 output tiles (winograd_s2.c,
//                           winograd_s2m7.c), one C source at two tile sizes
//
// The Swift package builds for baseline x86-64 (4-float SSE vectors, no FMA); the C kernels are
// compiled for AVX2+FMA alone, so they round differently (the tests compare both), but each has
// one fixed order of operations. Each C kernel is built at 8 floats a vector (AVX2) and at 16
// (AVX-512, taken where the CPU has it): the same operations lane by lane, so the same bits.
import CKernels

/// What the transforms know of a convolution: its shapes and tiling.
struct WinogradTiling: Sendable {
    let height: Int, width: Int, channels: Int, filters: Int
    /// Rows above and columns left of the image that the first tile covers: 1 for "same" padding
    /// at stride 1, 0 for "valid"; at stride 2 Keras's pad_top (Window2D).
    let pad: Int
    let outHeight: Int, outWidth: Int
    let tilesH: Int, tilesW: Int
    var tilesPerImage: Int { tilesH * tilesW }
}

/// One implementation of the transforms. Blocks hold T = images·tilesPerImage tiles in order;
/// V (P, T, C), M and dM (P, T, F), U and dU (P, C, F) for P positions per tile; `work` is
/// WinogradConvolution.workPerGroup floats of this group's own.
protocol WinogradTransforms: Sendable {
    var tiling: WinogradTiling { get }
    /// U[ξ][c][·] = (G g Gᵀ)[ξ] for input channel c of the kernel g (3, 3, C, F).
    func kernel(_ g: UnsafeMutablePointer<Float>, into u: UnsafeMutablePointer<Float>, channel c: Int)
    /// dKernel[·, ·, c, ·] += Gᵀ dU G for input channel c.
    func kernelGradient(_ du: UnsafeMutablePointer<Float>, into dk: UnsafeMutablePointer<Float>, channel c: Int)
    /// V = Bᵀ d B for every tile of `images` images starting at x.
    func input(_ x: UnsafeMutablePointer<Float>, images: Int, into v: UnsafeMutablePointer<Float>,
               work: UnsafeMutablePointer<Float>)
    /// y = f(Aᵀ M A + b) for every tile, cropped to the output, f = ReLU when `relu`; with
    /// `argmax`, y = maxpool₂ₓ₂(f(Aᵀ M A + b)) and argmax the position of each window's maximum.
    func output(_ m: UnsafeMutablePointer<Float>, images: Int, bias: UnsafeMutablePointer<Float>?, relu: Bool,
                into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?, work: UnsafeMutablePointer<Float>)
    /// dM = A dZ Aᵀ for every tile, dZ = dy ⊙ f'(y) (zero beyond the output's edge);
    /// biasSums (F) += Σ dZ, in tile order. With `argmax`, dy and y are pooled: dZ is dy at each
    /// window's maximum (where y > 0 with `relu`) and 0 elsewhere.
    func outputGradient(_ dy: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: Bool,
                        argmax: UnsafeMutablePointer<Int32>?, images: Int, into dm: UnsafeMutablePointer<Float>,
                        biasSums: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>)
    /// dx = Σ_tiles B dV Bᵀ (overlapping tiles added in tile order) for `images` images at dx,
    /// which is overwritten.
    func inputGradient(_ dv: UnsafeMutablePointer<Float>, images: Int, into dx: UnsafeMutablePointer<Float>,
                       work: UnsafeMutablePointer<Float>)
}

extension WinogradTransforms {
    var height: Int { tiling.height }
    var width: Int { tiling.width }
    var channels: Int { tiling.channels }
    var filters: Int { tiling.filters }
    var pad: Int { tiling.pad }
    var outHeight: Int { tiling.outHeight }
    var outWidth: Int { tiling.outWidth }
    var tilesH: Int { tiling.tilesH }
    var tilesW: Int { tiling.tilesW }
    var tilesPerImage: Int { tiling.tilesPerImage }
}

/// F(4×4, 3×3) with the tile transforms of winograd_f4x4.c (AVX2/FMA CPUs only; `code` .avx512:
/// the AVX-512 build, 16 channels a vector instead of 8, the same bits).
struct AVX2F4x4Transforms: WinogradTransforms {
    let tiling: WinogradTiling
    let code: VectorCode
    /// The kernel transforms, which have no C version.
    private var portable: PortableF4x4Transforms { PortableF4x4Transforms(tiling: tiling) }

    func kernel(_ g: UnsafeMutablePointer<Float>, into u: UnsafeMutablePointer<Float>, channel c: Int) {
        portable.kernel(g, into: u, channel: c)
    }

    func kernelGradient(_ du: UnsafeMutablePointer<Float>, into dk: UnsafeMutablePointer<Float>, channel c: Int) {
        portable.kernelGradient(du, into: dk, channel: c)
    }

    func input(_ x: UnsafeMutablePointer<Float>, images: Int, into v: UnsafeMutablePointer<Float>,
               work: UnsafeMutablePointer<Float>) {
        ck_winograd_input(x, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad),
                          Int32(tilesH), Int32(tilesW), v, code.wide)
    }

    func output(_ m: UnsafeMutablePointer<Float>, images: Int, bias: UnsafeMutablePointer<Float>?, relu: Bool,
                into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?, work: UnsafeMutablePointer<Float>) {
        ck_winograd_output(m, Int32(images), Int32(outHeight), Int32(outWidth), Int32(filters), Int32(tilesH),
                           Int32(tilesW), bias, relu ? 1 : 0, y, argmax, code.wide)
    }

    func outputGradient(_ dy: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: Bool,
                        argmax: UnsafeMutablePointer<Int32>?, images: Int, into dm: UnsafeMutablePointer<Float>,
                        biasSums: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        ck_winograd_output_gradient(dy, y, relu ? 1 : 0, argmax, Int32(images), Int32(outHeight), Int32(outWidth),
                                    Int32(filters), Int32(tilesH), Int32(tilesW), dm, biasSums, code.wide)
    }

    func inputGradient(_ dv: UnsafeMutablePointer<Float>, images: Int, into dx: UnsafeMutablePointer<Float>,
                       work: UnsafeMutablePointer<Float>) {
        ck_winograd_input_gradient(dv, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad),
                                   Int32(tilesH), Int32(tilesW), dx, code.wide)
    }
}

/// The C entry points that a table-driven transform source (winograd_pooled_body.h,
/// winograd_s2_body.h) has at each tile size besides its output passes, with the same signatures
/// in both: the kernel transform and its adjoint, the input tiles' transform and its adjoint.
struct WinogradTileKernels: Sendable {
    typealias Tiles = @convention(c) (UnsafePointer<Float>?, Int32, Int32, Int32, Int32, Int32, Int32, Int32,
                                      UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias Kernel = @convention(c) (UnsafePointer<Float>?, Int32, Int32, Int32, Int32,
                                       UnsafeMutablePointer<Float>?, Int32) -> Void
    let kernel: Kernel, kernelGradient: Kernel, input: Tiles, inputGradient: Tiles
}

/// Transforms built on such entry points: the four passes they share, called the same way.
protocol WinogradTableTransforms: WinogradTransforms {
    var tileKernels: WinogradTileKernels { get }
    var code: VectorCode { get }
}

extension WinogradTableTransforms {
    func kernel(_ g: UnsafeMutablePointer<Float>, into u: UnsafeMutablePointer<Float>, channel c: Int) {
        tileKernels.kernel(g, Int32(channels), Int32(filters), Int32(c), Int32(c + 1), u, code.wide)
    }

    func kernelGradient(_ du: UnsafeMutablePointer<Float>, into dk: UnsafeMutablePointer<Float>, channel c: Int) {
        tileKernels.kernelGradient(du, Int32(channels), Int32(filters), Int32(c), Int32(c + 1), dk, code.wide)
    }

    func input(_ x: UnsafeMutablePointer<Float>, images: Int, into v: UnsafeMutablePointer<Float>,
               work: UnsafeMutablePointer<Float>) {
        tileKernels.input(x, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad), Int32(tilesH),
                          Int32(tilesW), v, code.wide)
    }

    func inputGradient(_ dv: UnsafeMutablePointer<Float>, images: Int, into dx: UnsafeMutablePointer<Float>,
                       work: UnsafeMutablePointer<Float>) {
        tileKernels.inputGradient(dv, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad),
                                  Int32(tilesH), Int32(tilesW), dx, code.wide)
    }
}

/// The pooled transforms of winograd_pooled_body.h (AVX2/FMA CPUs only; `code` as for F(4×4)),
/// whose outputs always go on through 2×2 max pooling: F(5×5, 3×3) (winograd_f5x5.c, 7×7 tiles,
/// 49 positions) or F(4×4, 5×5) (winograd_f4x4k5.c, 8×8 tiles, 64 positions).
struct AVX2PooledTransforms: WinogradTableTransforms {
    /// The C entry points of one tile size.
    struct Kernels: Sendable {
        let tiles: WinogradTileKernels
        let outputPool: @convention(c) (UnsafePointer<Float>?, Int32, Int32, Int32, Int32, Int32, Int32,
                                        UnsafePointer<Float>?, Int32, UnsafeMutablePointer<Float>?,
                                        UnsafeMutablePointer<Int32>?, Int32) -> Void
        let outputPoolGradient: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, Int32,
                                                UnsafePointer<Int32>?, Int32, Int32, Int32, Int32, Int32, Int32,
                                                UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?,
                                                Int32) -> Void

        static let f5x5 = Kernels(tiles: WinogradTileKernels(kernel: ck_wino5_kernel,
                                                             kernelGradient: ck_wino5_kernel_gradient,
                                                             input: ck_wino5_input,
                                                             inputGradient: ck_wino5_input_gradient),
                                  outputPool: ck_wino5_output_pool, outputPoolGradient: ck_wino5_output_pool_gradient)
        static let f4x4k5 = Kernels(tiles: WinogradTileKernels(kernel: ck_wino45_kernel,
                                                               kernelGradient: ck_wino45_kernel_gradient,
                                                               input: ck_wino45_input,
                                                               inputGradient: ck_wino45_input_gradient),
                                    outputPool: ck_wino45_output_pool,
                                    outputPoolGradient: ck_wino45_output_pool_gradient)
    }

    let kernels: Kernels
    let tiling: WinogradTiling
    let code: VectorCode
    var tileKernels: WinogradTileKernels { kernels.tiles }

    init(_ kernels: Kernels, tiling: WinogradTiling, code: VectorCode) {
        self.kernels = kernels
        self.tiling = tiling
        self.code = code
    }

    func output(_ m: UnsafeMutablePointer<Float>, images: Int, bias: UnsafeMutablePointer<Float>?, relu: Bool,
                into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?, work: UnsafeMutablePointer<Float>) {
        kernels.outputPool(m, Int32(images), Int32(outHeight), Int32(outWidth), Int32(filters), Int32(tilesH),
                           Int32(tilesW), bias, relu ? 1 : 0, y, argmax!, code.wide)
    }

    func outputGradient(_ dy: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: Bool,
                        argmax: UnsafeMutablePointer<Int32>?, images: Int, into dm: UnsafeMutablePointer<Float>,
                        biasSums: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        kernels.outputPoolGradient(dy, y, relu ? 1 : 0, argmax!, Int32(images), Int32(outHeight), Int32(outWidth),
                                   Int32(filters), Int32(tilesH), Int32(tilesW), dm, biasSums, code.wide)
    }
}

/// The transforms of a 3×3 convolution at stride 2 (AVX2/FMA CPUs only; `code` as for F(4×4)),
/// winograd_s2_body.h at two tile sizes: tile (i, j) reads the (2M + 1)² inputs from row 2M·i −
/// pad, column 2M·j − pad, for outputs [M·i, M·i + M) × [M·j, M·j + M): M = 4 (winograd_s2.c, 81
/// positions, 36 kernel matrices) or 7 (winograd_s2m7.c, 225 and 81); `WinogradKernels.stride2`.
struct AVX2StridedTransforms: WinogradTableTransforms {
    /// The C entry points of one tile size.
    struct Kernels: Sendable {
        let tiles: WinogradTileKernels
        let output: @convention(c) (UnsafePointer<Float>?, Int32, Int32, Int32, Int32, Int32, Int32,
                                    UnsafePointer<Float>?, Int32, UnsafeMutablePointer<Float>?, Int32) -> Void
        let outputGradient: @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, Int32, Int32, Int32, Int32,
                                            Int32, Int32, Int32, UnsafeMutablePointer<Float>?,
                                            UnsafeMutablePointer<Float>?, Int32) -> Void

        static let m4 = Kernels(tiles: WinogradTileKernels(kernel: ck_wino_s2_kernel,
                                                           kernelGradient: ck_wino_s2_kernel_gradient,
                                                           input: ck_wino_s2_input,
                                                           inputGradient: ck_wino_s2_input_gradient),
                                output: ck_wino_s2_output, outputGradient: ck_wino_s2_output_gradient)
        static let m7 = Kernels(tiles: WinogradTileKernels(kernel: ck_wino_s27_kernel,
                                                           kernelGradient: ck_wino_s27_kernel_gradient,
                                                           input: ck_wino_s27_input,
                                                           inputGradient: ck_wino_s27_input_gradient),
                                output: ck_wino_s27_output, outputGradient: ck_wino_s27_output_gradient)
    }

    let kernels: Kernels
    let tiling: WinogradTiling
    let code: VectorCode
    var tileKernels: WinogradTileKernels { kernels.tiles }

    /// `tile`: M, 4 or 7.
    init(tile: Int, tiling: WinogradTiling, code: VectorCode) {
        precondition(tile == 4 || tile == 7, "stride-2 tiles are 4×4 or 7×7")
        kernels = tile == 4 ? .m4 : .m7
        self.tiling = tiling
        self.code = code
    }

    func output(_ m: UnsafeMutablePointer<Float>, images: Int, bias: UnsafeMutablePointer<Float>?, relu: Bool,
                into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
                work: UnsafeMutablePointer<Float>) {
        precondition(argmax == nil, "the stride-2 transforms have no pooling")
        kernels.output(m, Int32(images), Int32(outHeight), Int32(outWidth), Int32(filters), Int32(tilesH),
                       Int32(tilesW), bias, relu ? 1 : 0, y, code.wide)
    }

    func outputGradient(_ dy: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: Bool,
                        argmax: UnsafeMutablePointer<Int32>?, images: Int, into dm: UnsafeMutablePointer<Float>,
                        biasSums: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        precondition(argmax == nil, "the stride-2 transforms have no pooling")
        kernels.outputGradient(dy, y, relu ? 1 : 0, Int32(images), Int32(outHeight), Int32(outWidth), Int32(filters),
                               Int32(tilesH), Int32(tilesW), dm, biasSums, code.wide)
    }
}
