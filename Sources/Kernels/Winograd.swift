// 3×3, stride-1 convolution by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, 2015):
// each 4×4 block of outputs is computed from a 6×6 block of inputs with 36 multiplications per
// (input channel, filter) instead of 144. Batched over tiles, the multiplications become 36
// independent matrix products.
//
//   forward   Y = f(Aᵀ [ U ⊙ V ] A + b),   U = G g Gᵀ (kernel),  V = Bᵀ d B (6×6 input tile)
//   backward  the exact adjoints of the same three linear maps:
//             dZ = dY ⊙ f'; dM = A dZ Aᵀ;  dU = Σ_tiles V ⊙ dM → dg = Gᵀ dU G;  dV = U ⊙ dM → dd = B dV Bᵀ
//
// Layout: x (N, H, W, C) and y (N, OH, OW, F) channels last; kernel (3, 3, C, F) as Keras stores
// it. Images are processed in groups (`imagesPerGroup`, one thread each) of blocks
// (`imagesPerBlock`); within a block of T tiles, tile t = (image, i, j) covers outputs
// [4i, 4i+4) × [4j, 4j+4) (cropped at the edges), and the transformed tensors are
// position-major: V (36, T, C), M and dM (36, T, F). So the product for
// position ξ reads and writes contiguous (T × ·) matrices, and the tile transforms write (or read)
// 36 runs of C (or F) floats per tile, 8 channels at a time in SIMD8 vectors.
//
// f is ReLU or the identity, with an optional bias b, applied inside the output transform (and
// its derivative and the bias gradient inside the output-gradient transform), so the layer makes
// no separate pass over y or dy.
//
// Every sum has a fixed order (tiles in order within a group, groups added in group order), so
// results do not depend on the thread count.
//
// A layer whose output goes on through 2×2 max pooling may instead use F(5×5, 3×3) (7×7 tiles,
// 49 positions) when that computes fewer products for the outputs the pooling reads: cnn.yaml's
// second layer needs 10×10 outputs, four 5×5 tiles (4·49 = 196 products per channel and filter)
// against nine 4×4 ones (9·36 = 324). `tile` says which; everything below with 36 positions has
// `positions` of them. A 5×5 stride-1 layer followed by 2×2 max pooling uses F(4×4, 5×5) (8×8
// tiles, 64 positions: 64 products per channel and filter for 16 outputs, against 400): Caffe's
// LeNet's second layer. The formulas are the same with 5×5 kernels g.
//
// At stride 2 (3×3 kernels, unpooled), the same formulas hold with (2m + 1)² input tiles at a
// stride of 2m for m×m outputs, whose transforms split each axis into its even inputs, through
// F(m, 2), and its odd ones (Sources/CKernels/winograd_s2_body.h): for m = 4, 81 products per 16
// outputs against 144, and U has 36 distinct kernel matrices, which the products take once for
// the positions sharing them (`WinogradKernels`); m = 7 (225 for 49 against 441, 81 matrices)
// where it needs fewer products for the whole output (a 7×7 one: 225 against four 4×4 tiles' 324).
//
// Here: the shapes, the drivers of a pass, and the layer's path (`WinogradPath`). The transforms
// (WinogradTransforms.swift: F(4×4, 3×3), F(5×5, 3×3), F(4×4, 5×5) and stride 2 in AVX2/FMA C;
// WinogradPortable.swift: F(4×4, 3×3) in Swift for any CPU) and the products (WinogradProducts.swift: OpenBLAS, or AVX2/FMA kernels)
// are chosen once, when the convolution is made, so a run uses one code path throughout.
import CKernels

/// Shapes and buffer sizes of one Winograd convolution, and the transforms and products it uses.
public struct WinogradConvolution: Sendable {
    public let height: Int, width: Int, channels: Int, filters: Int
    /// 3 (3×3 kernels) or 5 (5×5, pooled layers on AVX2 CPUs only).
    public let kernelSize: Int
    /// (kernelSize − 1) / 2 for Keras's "same" padding (stride 1: that many rows and columns of zeros on
    /// each side), 0 for "valid".
    public let pad: Int
    public let outHeight: Int, outWidth: Int
    public let tilesH: Int, tilesW: Int
    /// Whether the tile transforms that have an AVX2/FMA version use it.
    public let avx2: Bool
    /// Whether the products use the AVX2/FMA kernels of gemm.c instead of `cblas_sgemm`.
    public let avx2Products: Bool
    /// Whether the C transforms run their AVX-512 build (16 floats a vector; the same bits as the
    /// AVX2 build's 8).
    public let wide: Bool
    /// Outputs per tile side: 4 for F(4×4, 3×3) and F(4×4, 5×5), 5 for F(5×5, 3×3) (pooled layers,
    /// AVX2 only); at stride 2, 4 or 7, whichever needs fewer products.
    public let tile: Int
    /// 1, or 2 (3×3 kernels, unpooled, AVX2 only: the stride-2 transforms).
    public let stride: Int
    /// Which positions share a kernel matrix of U (all distinct but at stride 2).
    let kernels: WinogradKernels
    /// Whether a batch normalization before the layer is applied to its input as the passes read
    /// it (`InputNormalization`): a block's images are normalized into the group's scratch before
    /// the input transform, in the forward and again in the backward. Set before the scratch is sized.
    public var normalizesInput = false
    let transforms: any WinogradTransforms
    let products: any WinogradProducts

    /// True when this CPU has AVX2 and FMA.
    public static let avx2Available = ck_has_avx2_fma() != 0

    /// `avx2: false` forces the portable transforms and OpenBLAS products; `wide: false` the C
    /// transforms' AVX2 build where the CPU has AVX-512 (the tests compare them); `avx2Products` (by
    /// default the same as `avx2`) chooses the products alone (the tests compare the paths).
    /// With `pooled` (the output goes on through 2×2 max pooling) and AVX2, F(5×5, 3×3) is taken
    /// when it needs fewer products for the pooled outputs, unless `tile` says otherwise (4 or 5).
    /// A `kernelSize` of 5 takes F(4×4, 5×5), which needs `pooled`, AVX2 and `supports5x5`.
    /// A `stride` of 2 takes the stride-2 transforms, which need a 3×3 kernel, no pooling, AVX2 and
    /// `supportsStride2`, with 4×4 or 7×7 tiles (`tile`, else whichever needs fewer products).
    public init(height: Int, width: Int, channels: Int, filters: Int, kernelSize: Int = 3, stride: Int = 1,
                same: Bool, avx2: Bool = WinogradConvolution.avx2Available, avx2Products: Bool? = nil,
                pooled: Bool = false, tile: Int? = nil, wide: Bool = true) {
        precondition(kernelSize == 3 || kernelSize == 5, "Winograd convolutions are 3×3 or 5×5")
        precondition(stride == 1 || (stride == 2 && kernelSize == 3 && !pooled && avx2 && [4, 7].contains(tile ?? 4)
                                     && Self.supportsStride2(height: height, width: width, same: same)),
                     "the stride-2 transforms asked for where they do not apply")
        precondition(kernelSize == 3 || (avx2 && pooled && tile != 5
                                         && Self.supports5x5(height: height, width: width, same: same)),
                     "F(4×4, 5×5) asked for where it does not apply")
        precondition(!avx2 || Self.avx2Available, "AVX2/FMA transforms asked for on a CPU without them")
        precondition(!(avx2Products ?? false) || Self.avx2Available, "AVX2/FMA products asked for on a CPU without them")
        self.avx2 = avx2
        self.avx2Products = avx2Products ?? avx2
        self.wide = wide && avx2 && VectorCode.avx512.isAvailable
        self.height = height
        self.width = width
        self.channels = channels
        self.filters = filters
        self.kernelSize = kernelSize
        self.stride = stride
        if stride == 2 {
            (outHeight, pad) = Window2D.axis(height, 3, 2, same)
            outWidth = Window2D.axis(width, 3, 2, same).0
        } else {
            pad = same ? (kernelSize - 1) / 2 : 0
            outHeight = same ? height : height - kernelSize + 1
            outWidth = same ? width : width - kernelSize + 1
        }
        // F(5×5): tiles over the outputs the pooling reads (2·⌊OH/2⌋ × 2·⌊OW/2⌋).
        let needH = outHeight / 2 * 2, needW = outWidth / 2 * 2
        let (fiveH, fiveW) = ((needH + 4) / 5, (needW + 4) / 5)
        let four = ((outHeight + 3) / 4) * ((outWidth + 3) / 4) * 36, five = fiveH * fiveW * 49
        let fiveFits = kernelSize == 3 && avx2 && pooled && needH > 0 && needW > 0
            && ck_wino5_supported(Int32(fiveH), Int32(fiveW)) != 0
        precondition(tile != 5 || fiveFits, "F(5×5, 3×3) asked for where it does not apply")
        // Stride 2: the tile size (4 or 7) with fewer products for the whole output.
        let (oh, ow) = (outHeight, outWidth)
        func strided(_ m: Int) -> Int { ((oh + m - 1) / m) * ((ow + m - 1) / m) * (2 * m + 1) * (2 * m + 1) }
        if stride == 2 {
            self.tile = tile ?? (strided(7) < strided(4) ? 7 : 4)
        } else {
            self.tile = tile ?? (fiveFits && five < four ? 5 : 4)
        }
        if stride == 2 {
            (tilesH, tilesW) = ((outHeight + self.tile - 1) / self.tile, (outWidth + self.tile - 1) / self.tile)
        } else if self.tile == 5 {
            (tilesH, tilesW) = (fiveH, fiveW)
        } else if kernelSize == 5 {
            (tilesH, tilesW) = ((needH + 3) / 4, (needW + 3) / 4)     // the outputs the pooling reads
        } else {
            tilesH = (outHeight + 3) / 4
            tilesW = (outWidth + 3) / 4
        }
        let side = self.tile + kernelSize - 1
        kernels = stride == 2 ? .stride2(tile: self.tile) : .oneEach(side * side)
        // The one place that picks the code of the passes.
        let tiling = WinogradTiling(height: height, width: width, channels: channels, filters: filters, pad: pad,
                                    outHeight: outHeight, outWidth: outWidth, tilesH: tilesH, tilesW: tilesW)
        let code: VectorCode = self.wide ? .avx512 : .avx2
        switch (kernelSize, self.tile, avx2) {
        case _ where stride == 2: transforms = AVX2StridedTransforms(tile: self.tile, tiling: tiling, code: code)
        case (5, _, _): transforms = AVX2PooledTransforms(.f4x4k5, tiling: tiling, code: code)   // AVX2, pooled
        case (_, 5, _): transforms = AVX2PooledTransforms(.f5x5, tiling: tiling, code: code)   // where `fiveFits`
        case (_, _, true): transforms = AVX2F4x4Transforms(tiling: tiling, code: code)
        case (_, _, false): transforms = PortableF4x4Transforms(tiling: tiling)
        }
        products = self.avx2Products ? AVX2WinogradProducts() : BLASWinogradProducts()
    }

    /// Whether F(4×4, 5×5) with 2×2 max pooling takes a 5×5 stride-1 layer over height × width
    /// images ("same" or "valid"): on AVX2/FMA CPUs, when the pooled output transforms take its tiles.
    public static func supports5x5(height: Int, width: Int, same: Bool) -> Bool {
        let (oh, ow) = same ? (height, width) : (height - 4, width - 4)
        let needH = oh / 2 * 2, needW = ow / 2 * 2
        return avx2Available && needH > 0 && needW > 0
            && ck_wino45_supported(Int32((needH + 3) / 4), Int32((needW + 3) / 4)) != 0
    }

    /// Whether the stride-2 transforms take a 3×3 stride-2 layer over height × width images: on
    /// AVX2/FMA CPUs, when it has an output and pads the top as much as the left ("same" over a
    /// square image, or "valid").
    public static func supportsStride2(height: Int, width: Int, same: Bool) -> Bool {
        let (oh, top) = Window2D.axis(height, 3, 2, same), (ow, left) = Window2D.axis(width, 3, 2, same)
        return avx2Available && oh > 0 && ow > 0 && top == left
    }

    /// Transformed positions per tile: (tile + kernelSize − 1)², 36, 49 or 64; (2·tile + 1)², 81 or
    /// 225, at stride 2.
    public var positions: Int { kernels.positions }
    /// Distinct kernel matrices of U: `positions` but at stride 2 ((tile + 2)², 36 or 81).
    public var kernelMatrices: Int { kernels.count }

    /// Tiles per image.
    public var tilesPerImage: Int { tilesH * tilesW }
    /// Floats of the transformed kernel U (and of its gradient dU): kernel matrices × C × F.
    public var kernelTransformCount: Int { kernels.count * channels * filters }
    /// Floats per image of the transformed input V (tiles × positions × C) and of M / dM (tiles × positions × F).
    public var inputTransformPerImage: Int { positions * tilesPerImage * channels }
    public var productPerImage: Int { positions * tilesPerImage * filters }
    /// Floats of working space per group for the tile transforms (40 vectors of 8).
    static let workPerGroup = 40 * 8
    /// Floats (and Int32s of argmax) per image of the output after 2×2 max pooling.
    public var pooledPerImage: Int { (outHeight / 2) * (outWidth / 2) * filters }

    /// Images per group. Each group goes through every step of a pass on one thread, so a core
    /// only ever touches its own images' tiles: handing the 36 products to threads by position
    /// instead moved the transformed tiles between cores, and two threads were slower than one
    /// (this VM's two cores do not share a cache). 32 images keep a group's tiles in cache while
    /// the products stay large enough for sgemm.
    public static let imagesPerGroup = 32
    /// Images per block within a group: each step of a pass runs on one block at a time, so the
    /// block's V and M (0.5 MB for 4 images of cnn.yaml's second layer) stay in this core's
    /// L2 cache between the transforms and the products, the group's kernel-gradient share is
    /// accumulated block after block (in order), and M's memory is the same for every block.
    /// How many suits the products (WinogradProducts.swift).
    /// At stride 2, the fewest images whose tiles fill whole 6-row register tiles (up to 6 images,
    /// where the products' choice stops at 4). Measured (layer-bench on the strided network, one
    /// thread, minima of 150): its third layer (one 4×4 tile an image) 2.39 ms backward in blocks of
    /// 12 images, 2.44–2.48 in 24–96, and blocks of 6 no different from 12; its second (one 7×7 tile)
    /// 0.87–0.95 ms forward and 1.89–2.05 backward in blocks of 6 images, 0.96–1.06 and 2.03–2.11 in 12.
    public var imagesPerBlock: Int {
        if stride == 2 { return (1...6).first { $0 * tilesPerImage % 6 == 0 }! }
        return products.imagesPerBlock(tilesPerImage: tilesPerImage)
    }

    func groups(_ n: Int) -> Int { (n + Self.imagesPerGroup - 1) / Self.imagesPerGroup }

    /// Floats of working space `forward`/`backward` need besides U and Uᵀ, for `n` images: per
    /// group, V and M (or dM) of one block, the transforms' scratch, and the group's shares of dU,
    /// of the bias gradient and of the kernel gradient.
    public func scratchCount(images n: Int) -> Int { groups(n) * groupScratch }
    /// A group's floats, rounded up to whole cache lines (the scratch starts on one).
    private var groupScratch: Int {
        (blockOffset + imagesPerBlock * (inputTransformPerImage + productPerImage + outputPerImage
                                         + (normalizesInput ? inputPerImage : 0)) + 15) / 16 * 16
    }
    /// Floats of the input per image.
    var inputPerImage: Int { height * width * channels }
    /// Floats of the (unpooled) output per image.
    var outputPerImage: Int { outHeight * outWidth * filters }
    /// Where a group's V starts in its scratch (then M): after the work space and the partial
    /// sums, on a cache line.
    private var blockOffset: Int { (Self.workPerGroup + kernelTransformCount + filters + kernelCount + 15) / 16 * 16 }
    /// Floats of the kernel (and of a group's share of its gradient): k × k × C × F.
    var kernelCount: Int { kernelSize * kernelSize * channels * filters }
    /// A split of `scratchCount` into a part per image and a fixed part:
    /// scratchCount(images: n) ≤ n · scratchPerImage + scratchFixed for every n.
    public var scratchPerImage: Int { (groupScratch + Self.imagesPerGroup - 1) / Self.imagesPerGroup }
    public var scratchFixed: Int { groupScratch }

    /// One group's part of the scratch.
    struct GroupScratch {
        /// The transforms' working space.
        let work: UnsafeMutablePointer<Float>
        /// The group's share of dU, of the bias gradient and of the kernel gradient (Gᵀ dU G).
        let partial: UnsafeMutablePointer<Float>, biasPartial: UnsafeMutablePointer<Float>,
            kernelPartial: UnsafeMutablePointer<Float>
        /// V (then dV) and M (then dM) of the block being computed: the same memory for every
        /// block, so it stays in this core's cache from one step of the block to the next.
        let v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>
        /// The block's dy when the backward computes it (`normalization`).
        let dy: UnsafeMutablePointer<Float>
        /// The block's normalized input (with `normalizesInput`).
        let input: UnsafeMutablePointer<Float>
    }

    // MARK: Drivers

    /// y = f(conv(x, kernel) + bias) for images 0..<n, f = ReLU when `relu`, else the identity.
    /// `u` receives the transformed kernel; `scratch` is `scratchCount(images: n)` floats.
    /// With `poolArgmax`, the output goes on through 2×2 max pooling (stride 2, valid) as in
    /// ConvolutionPool.swift: y is the pooled (n, OH/2, OW/2, F) and poolArgmax (as many Int32s)
    /// the position of each maximum in its window. With `inputNormalization` (`normalizesInput`),
    /// x is that normalization's input: the convolution's input is x normalized.
    public func forward(_ x: FloatView, kernel: FloatView, bias: FloatView? = nil, relu: Bool = false,
                        images n: Int, u: FloatView, scratch: FloatView, into y: FloatView,
                        poolArgmax: FloatView? = nil, inputNormalization: InputNormalization? = nil,
                        pool: ThreadPool?) {
        let perImage = poolArgmax == nil ? outHeight * outWidth * filters : pooledPerImage
        precondition(x.count >= n * height * width * channels
                     && y.count >= n * perImage && (poolArgmax?.count ?? .max) >= n * perImage)
        let argmax = poolArgmax.map { UnsafeMutableRawPointer($0.base).assumingMemoryBound(to: Int32.self) }
        if let bias { precondition(bias.count >= filters) }
        precondition((tile == 4 && kernelSize == 3) || stride == 2 || argmax != nil,
                     "F(5×5, 3×3) and F(4×4, 5×5) compute pooled outputs only")
        transformKernel(kernel, into: u, pool: pool)
        let xp = x.base, yp = y.base, up = u.base, bp = bias?.base
        forEachBlock(n, scratch: scratch, pool: pool) { first, count, s in
            transforms.input(blockInput(xp, first: first, count: count, inputNormalization, s), images: count,
                             into: s.v, work: s.work)
            products.forward(kernels: kernels, tiles: count * tilesPerImage, channels: channels, filters: filters,
                             v: s.v, u: up, into: s.m)
            transforms.output(s.m, images: count, bias: bp, relu: relu, into: yp + first * perImage,
                              argmax: argmax.map { $0 + first * perImage }, work: s.work)
        }
    }

    /// dKernel += ∂L/∂kernel, biasGradient += ∂L/∂bias (when given) and, when dx is given,
    /// dx = ∂L/∂x, for dy = ∂L/∂y of the last `forward` of x (whose output `y` and `u` are passed
    /// back). `y` is needed only with `relu`. V is computed again from x, block by block, instead
    /// of kept from the forward: a batch's V is larger than x (36 floats per tile and channel for
    /// 16 outputs — 21 MB for cnn-best.yaml's second layer, whose input is 11 MB) and went to
    /// memory and back, where one block's stays in cache. Each group's share of the kernel and
    /// bias gradients is kept apart and the shares are added in group order. With
    /// `normalization` (unpooled, no `relu`; dy nil), dy is the input gradient of the batch
    /// normalization after the layer, computed block by block into the group's scratch
    /// (`ck_bn_gradient_rows`, the values that layer would have written).
    /// `ut` is `kernelTransformCount` floats of working space (the products' Uᵀ).
    /// With `poolArgmax` (of a pooled `forward`), dy and y are the pooled gradient and output.
    /// `inputNormalization` as in `forward` (dx is then the gradient of the normalized input).
    public func backward(_ dy: FloatView?, x: FloatView, y: FloatView? = nil, relu: Bool = false, images n: Int,
                         u: FloatView, scratch: FloatView, ut: FloatView, dKernel: FloatView,
                         biasGradient: FloatView? = nil, dx: FloatView?, poolArgmax: FloatView? = nil,
                         normalization: UnsafePointer<ck_bn_gradient>? = nil,
                         inputNormalization: InputNormalization? = nil, pool: ThreadPool?) {
        let perImage = poolArgmax == nil ? outHeight * outWidth * filters : pooledPerImage
        let outCount = n * perImage
        let argmax = poolArgmax.map { UnsafeMutableRawPointer($0.base).assumingMemoryBound(to: Int32.self) }
        if poolArgmax != nil { precondition(y != nil && y!.count >= outCount && poolArgmax!.count >= outCount) }
        precondition(x.count >= n * height * width * channels)
        if let normalization {
            precondition(dy == nil && poolArgmax == nil && !relu && normalization.pointee.channels == Int32(filters))
        } else {
            precondition(dy != nil && dy!.count >= outCount)
        }
        if relu { precondition(y != nil && y!.count >= outCount) }
        if let dx { precondition(dx.count >= n * height * width * channels) }
        precondition(ut.count >= kernelTransformCount)
        let dyp = dy?.base, yp = relu || poolArgmax != nil ? y!.base : nil, xp = x.base, up = u.base, dxp = dx?.base
        // dV = dM · Uᵀ may read Uᵀ (kernel matrices, F, C), made here.
        let utp = ut.base
        if dx != nil {
            products.prepareInputGradient(kernels: kernels, channels: channels, filters: filters, u: up, ut: utp,
                                          pool: pool)
        }
        // Each group's dU goes through Gᵀ · G on the group's thread, into the group's share of the
        // kernel gradient: the shares (k² per C × F against dU's 36–225) are what crosses
        // between cores, not dU's.
        forEachBlock(n, scratch: scratch, pool: pool, afterGroup: { s in
            s.kernelPartial.update(repeating: 0, count: kernelCount)
            for c in 0..<channels { transforms.kernelGradient(s.partial, into: s.kernelPartial, channel: c) }
        }) { first, count, s in
            let offset = first * perImage, firstOfGroup = first % Self.imagesPerGroup == 0
            if firstOfGroup { s.biasPartial.update(repeating: 0, count: filters) }
            if let normalization {
                ck_bn_gradient_rows(normalization, first * outHeight * outWidth, count * outHeight * outWidth, s.dy)
            }
            transforms.outputGradient(dyp.map { $0 + offset } ?? s.dy, y: yp.map { $0 + offset }, relu: relu,
                                      argmax: argmax.map { $0 + offset }, images: count, into: s.m,
                                      biasSums: s.biasPartial, work: s.work)
            let t = count * tilesPerImage, c = channels, f = filters
            transforms.input(blockInput(xp, first: first, count: count, inputNormalization, s), images: count,
                             into: s.v, work: s.work)
            // dU[ξ] = V[ξ]ᵀ · dM[ξ], summed over the group's tiles: the first block's, then each
            // next block's added.
            products.kernelGradient(kernels: kernels, tiles: t, channels: c, filters: f, v: s.v, dm: s.m,
                                    into: s.partial, accumulate: !firstOfGroup)
            guard let dxp else { return }
            // dV[ξ] = dM[ξ] · U[ξ]ᵀ, into V's memory.
            products.inputGradient(kernels: kernels, tiles: t, channels: c, filters: f, dm: s.m, u: up, ut: utp,
                                   into: s.v)
            transforms.inputGradient(s.v, images: count, into: dxp + first * height * width * channels, work: s.work)
        }
        // dKernel += Σ_groups shares, in group order. Likewise the bias.
        let groups = groups(n), total = kernelTransformCount, gs = groupScratch
        let sp = scratch.base
        addPartials(sp + Self.workPerGroup + total + filters, pieces: max(1, groups), stride: gs,
                    m: kernelSize * kernelSize * channels, n: filters, beta: 1, c: dKernel.base, ldc: filters,
                    pool: pool)
        if let biasGradient {
            precondition(biasGradient.count >= filters)
            let bg = biasGradient.base
            for g in 0..<groups {
                let part = sp + g * gs + Self.workPerGroup + total
                for j in 0..<filters { bg[j] += part[j] }
            }
        }
    }

    /// The input of images first ..< first + count: x's, or with `normalization` x's normalized
    /// into the group's scratch.
    private func blockInput(_ x: UnsafeMutablePointer<Float>, first: Int, count: Int,
                            _ normalization: InputNormalization?, _ s: GroupScratch) -> UnsafeMutablePointer<Float> {
        let at = x + first * inputPerImage
        guard let normalization else { return at }
        precondition(normalizesInput && normalization.channels == channels, "scratch sized without the normalized input")
        normalization.apply(at, into: s.input, rows: count * height * width)
        return s.input
    }

    /// Runs `body(first, count, groupScratch)` for each block of images, the blocks of a group in
    /// order on one thread (with that group's scratch), then `afterGroup` with the group's
    /// scratch; the groups on the pool.
    private func forEachBlock(_ n: Int, scratch: FloatView, pool: ThreadPool?,
                              afterGroup: (GroupScratch) -> Void = { _ in },
                              _ body: (Int, Int, GroupScratch) -> Void) {
        precondition(scratch.count >= scratchCount(images: n))
        let g = Self.imagesPerGroup, gs = groupScratch, base = scratch.base
        let v = blockOffset, m = v + imagesPerBlock * inputTransformPerImage, dy = m + imagesPerBlock * productPerImage
        forEach(groups(n), pool: pool) { group in
            let first = group * g, count = min(g, n - first), own = base + group * gs
            let bias = own + Self.workPerGroup + kernelTransformCount
            let s = GroupScratch(work: own, partial: own + Self.workPerGroup, biasPartial: bias,
                                 kernelPartial: bias + filters, v: own + v, m: own + m,
                                 dy: own + dy, input: own + dy + imagesPerBlock * outputPerImage)
            for start in Swift.stride(from: first, to: first + count, by: imagesPerBlock) {
                body(start, min(imagesPerBlock, first + count - start), s)
            }
            afterGroup(s)
        }
    }

    // MARK: Kernel transforms (once per step, small)

    /// U[ξ][c][f] = (G g Gᵀ)[ξ] for g = kernel[:, :, c, f]; one chunk per input channel.
    public func transformKernel(_ kernel: FloatView, into u: FloatView, pool: ThreadPool? = nil) {
        precondition(kernel.count >= kernelSize * kernelSize * channels * filters && u.count >= kernelTransformCount)
        let g = kernel.base, out = u.base
        forEach(channels, pool: pool) { c in transforms.kernel(g, into: out, channel: c) }
    }
}

/// A Winograd convolution as a layer's path: U, Uᵀ, the passes' scratch and (pooled) the
/// pooling's argmax in the layer's scratch. ReLU and the identity run inside the transforms;
/// other activations take a pass of their own (not with pooling).
public final class WinogradPath: NormalizationGradientPath, NormalizedInputPath {
    public private(set) var winograd: WinogradConvolution
    /// Whether the 2×2 max pooling after the layer runs inside it.
    public let pooled: Bool
    private var u: FloatView?, ut: FloatView?, scratch: FloatView?, argmax: FloatView?

    public init(_ winograd: WinogradConvolution, pooled: Bool) {
        precondition((winograd.tile == 4 && winograd.kernelSize == 3) || winograd.stride == 2 || pooled,
                     "F(5×5, 3×3) and F(4×4, 5×5) compute pooled outputs only")
        precondition(winograd.stride == 1 || !pooled, "the stride-2 transforms have no pooling")
        self.winograd = winograd
        self.pooled = pooled
    }

    /// winograd-f4x4, winograd-f4x4-pooled, winograd-f5x5-pooled, (5×5 kernels)
    /// winograd-f4x4-k5x5-pooled or (stride 2) winograd-s2-f4x4, winograd-s2-f7x7; "-portable" when
    /// the transforms are the Swift ones (a CPU without AVX2/FMA).
    public var name: String {
        let t = winograd.tile, k = winograd.kernelSize
        return "winograd-" + (winograd.stride == 2 ? "s2-" : "") + "f\(t)x\(t)" + (k == 3 ? "" : "-k\(k)x\(k)")
            + (pooled ? "-pooled" : "")
            + (winograd.avx2 ? "" : "-portable")
    }

    /// Per sample: a share of the passes' scratch (the groups' V, M and partial sums), with
    /// pooling the argmax; fixed: the rest of the scratch, U and Uᵀ.
    public var scratchPerSample: Int { winograd.scratchPerImage + (pooled ? winograd.pooledPerImage : 0) }
    public var scratchFixed: Int { winograd.scratchFixed + 2 * winograd.kernelTransformCount }

    public func bind(scratch: FloatView) {
        let w = winograd, maxBatch = (scratch.count - scratchFixed) / scratchPerSample
        var offset = 0
        func take(_ count: Int) -> FloatView {
            defer { offset += count }
            return scratch.slice(offset, count)
        }
        self.scratch = take(w.scratchCount(images: maxBatch))
        u = take(w.kernelTransformCount)
        ut = take(w.kernelTransformCount)
        if pooled { argmax = take(maxBatch * w.pooledPerImage) }
    }

    private func fused(_ activation: Activation) -> Bool { activation == .relu || activation == .linear }

    public func normalizeInput() {
        precondition(u == nil, "before the scratch is bound")
        winograd.normalizesInput = true
    }
    public var inputNormalization: InputNormalization?

    // y = f(Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A + b), tile by tile, 36 (or 49) GEMMs per block of images
    public func forward(_ x: FloatView, weights: ConvolutionWeights, activation: Activation, into y: FloatView,
                        batch n: Int, pool: ThreadPool?) {
        let w = winograd
        w.forward(x, kernel: weights.kernel, bias: weights.bias, relu: activation == .relu, images: n, u: u!,
                  scratch: scratch!, into: y, poolArgmax: argmax, inputNormalization: inputNormalization, pool: pool)
        if !fused(activation) {
            precondition(!pooled)
            biasActivationForward(y, rows: n * w.outHeight * w.outWidth, cols: w.filters, bias: nil,
                                  activation: activation, pool: pool)
        }
    }

    // dz = dy ⊙ f'(z); db += Σ dz; dM = A dz Aᵀ;  dK += Gᵀ (Σ V ⊙ dM) G;  dx = B (U ⊙ dM) Bᵀ
    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, weights: ConvolutionWeights,
                         activation: Activation, batch n: Int, pool: ThreadPool?) {
        let w = winograd
        if !fused(activation) {
            activationBackward(y: y, dy: dy, rows: n * w.outHeight * w.outWidth, cols: w.filters,
                               activation: activation, biasGradient: nil, partials: dy, pool: pool)
        }
        w.backward(dy, x: x, y: y, relu: activation == .relu, images: n, u: u!, scratch: scratch!, ut: ut!,
                   dKernel: weights.kernelGradient, biasGradient: weights.biasGradient, dx: dx, poolArgmax: argmax,
                   inputNormalization: inputNormalization, pool: pool)
    }

    /// Unpooled and without activation: the output-gradient transform reads dy block by block, so
    /// each block's is computed into the group's scratch first (bias or not, first layer or not).
    public func takesNormalizationGradient(bias: Bool, activation: Activation, first: Bool) -> Bool {
        !pooled && activation == .linear
    }

    public func backward(x: FloatView, y: FloatView, normalization: BatchNormGradient, dx: FloatView?,
                         weights: ConvolutionWeights, activation: Activation, batch n: Int, pool: ThreadPool?) {
        precondition(!pooled && activation == .linear)
        let w = winograd
        withUnsafePointer(to: normalization.source) { source in
            w.backward(nil, x: x, y: y, relu: false, images: n, u: u!, scratch: scratch!, ut: ut!,
                       dKernel: weights.kernelGradient, biasGradient: weights.biasGradient, dx: dx,
                       normalization: source, inputNormalization: inputNormalization, pool: pool)
        }
    }
}
