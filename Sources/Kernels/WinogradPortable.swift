// The portable F(4×4, 3×3) transforms (WinogradTransforms.swift): Swift SIMD8 code, 8 channels (or
// filters) at a time, for any CPU. The AVX2/FMA tile transforms of Sources/CKernels/winograd_f4x4.c
// are the same loops; the kernel transforms here serve both. Formulas and layouts: Winograd.swift.

/// F(4×4, 3×3) in Swift.
struct PortableF4x4Transforms: WinogradTransforms {
    let tiling: WinogradTiling

    // MARK: Kernel transforms (once per step, small)

    /// U[ξ][c][f] = (G g Gᵀ)[ξ] for g = kernel[:, :, c, f], 8 filters at a time.
    func kernel(_ g: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, channel c: Int) {
        let cf = channels * filters, f = filters
        for k in stride(from: 0, to: f, by: 8) {
            let lanes = min(8, f - k)
            // g[r][s] sits at ((r·3 + s)·C + c)·F + f.
            @inline(__always) func w(_ r: Int, _ s: Int) -> SIMD8<Float> { load(g + ((r * 3 + s) * channels + c) * f + k, lanes) }
            let c0 = kernelColumn(w(0, 0), w(1, 0), w(2, 0))     // columns of G g: 6 × 3
            let c1 = kernelColumn(w(0, 1), w(1, 1), w(2, 1))
            let c2 = kernelColumn(w(0, 2), w(1, 2), w(2, 2))
            @inline(__always) func row(_ r: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>, _ d: SIMD8<Float>) {
                let o = kernelColumn(a, b, d)                   // row r of (G g) Gᵀ
                let at = out + r * 6 * cf + c * f + k
                store(o.0, at, lanes); store(o.1, at + cf, lanes); store(o.2, at + 2 * cf, lanes)
                store(o.3, at + 3 * cf, lanes); store(o.4, at + 4 * cf, lanes); store(o.5, at + 5 * cf, lanes)
            }
            row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2)
            row(3, c0.3, c1.3, c2.3); row(4, c0.4, c1.4, c2.4); row(5, c0.5, c1.5, c2.5)
        }
    }

    /// dKernel[·, ·, c, ·] += Gᵀ dU G, 8 filters at a time.
    func kernelGradient(_ dup: UnsafeMutablePointer<Float>, into dk: UnsafeMutablePointer<Float>, channel c: Int) {
        let cf = channels * filters, f = filters
        for k in stride(from: 0, to: f, by: 8) {
            let lanes = min(8, f - k)
            // dU[a][b] sits at (a·6 + b)·C·F + c·F + f; rows = dU G (6 × 3), then Gᵀ rows.
            @inline(__always) func row(_ a: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                let at = dup + a * 6 * cf + c * f + k
                return kernelAdjoint(load(at, lanes), load(at + cf, lanes), load(at + 2 * cf, lanes),
                                     load(at + 3 * cf, lanes), load(at + 4 * cf, lanes), load(at + 5 * cf, lanes))
            }
            let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5)
            @inline(__always) func add(_ s: Int, _ d: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
                let at = dk + (s * channels + c) * f + k, row = 3 * channels * f   // r = 0, 1, 2
                store(load(at, lanes) + d.0, at, lanes)
                store(load(at + row, lanes) + d.1, at + row, lanes)
                store(load(at + 2 * row, lanes) + d.2, at + 2 * row, lanes)
            }
            add(0, kernelAdjoint(r0.0, r1.0, r2.0, r3.0, r4.0, r5.0))
            add(1, kernelAdjoint(r0.1, r1.1, r2.1, r3.1, r4.1, r5.1))
            add(2, kernelAdjoint(r0.2, r1.2, r2.2, r3.2, r4.2, r5.2))
        }
    }

    // MARK: Tile transforms of one group (tiles t = (image, i, j) in order, T of them)

    /// Rows (or columns) r of a tile's 6 starting at `start` that fall inside 0..<size.
    @inline(__always)
    private static func inside(_ start: Int, _ size: Int) -> Range<Int> {
        max(0, -start)..<max(0, min(6, size - start))
    }

    /// Calls `body(tile, k, lanes, corner, rows, columns)` for every block of ≤ 8 channels (first
    /// channel k) of every 6×6 input tile of `images` images, in the order V numbers the tiles:
    /// `corner` is the offset in the images (N, H, W, C) of the tile's top-left element (possibly
    /// outside the image), `rows` and `columns` the parts of the tile inside it. The input
    /// transform and its gradient walk the tiles this way (as winograd_f4x4.c's for_each_tile_block).
    @inline(__always)
    private func forEachInputTileBlock(images: Int, _ body: (Int, Int, Int, Int, Range<Int>, Range<Int>) -> Void) {
        let c = channels, line = width * c
        var tile = 0
        for image in 0..<images {
            for i in 0..<tilesH {
                let top = i * 4 - pad, rr = Self.inside(top, height)
                for j in 0..<tilesW {
                    let left = j * 4 - pad, cr = Self.inside(left, width)
                    for k in stride(from: 0, to: c, by: 8) {
                        body(tile, k, min(8, c - k), image * height * line + top * line + left * c + k, rr, cr)
                    }
                    tile += 1
                }
            }
        }
    }

    /// V (36, T, C) = Bᵀ d B for every tile of `images` images starting at x.
    func input(_ x: UnsafeMutablePointer<Float>, images: Int, into v: UnsafeMutablePointer<Float>,
               work: UnsafeMutablePointer<Float>) {
        let c = channels, t = images * tilesPerImage, line = width * c
        let rows = UnsafeMutableRawPointer(work)      // Bᵀ d, 6 × 6 vectors
        forEachInputTileBlock(images: images) { tile, k, lanes, offset, rr, cr in
            let corner = x + offset, full = rr.count == 6 && cr.count == 6
            // rows[·][s] = Bᵀ · d[·][s], column by column.
            for s in 0..<6 {
                @inline(__always) func d(_ r: Int) -> SIMD8<Float> {
                    if full || (rr.contains(r) && cr.contains(s)) {
                        return load(corner + r * line + s * c, lanes)
                    }
                    return .zero
                }
                let o = inputTransform(d(0), d(1), d(2), d(3), d(4), d(5))
                put(rows, 0 * 6 + s, o.0); put(rows, 1 * 6 + s, o.1); put(rows, 2 * 6 + s, o.2)
                put(rows, 3 * 6 + s, o.3); put(rows, 4 * 6 + s, o.4); put(rows, 5 * 6 + s, o.5)
            }
            // V[r][·] = rows[r][·] · B, row by row, to positions ξ = 6r + s.
            for r in 0..<6 {
                let o = inputTransform(get(rows, r * 6), get(rows, r * 6 + 1), get(rows, r * 6 + 2),
                                       get(rows, r * 6 + 3), get(rows, r * 6 + 4), get(rows, r * 6 + 5))
                let out = v + ((r * 6) * t + tile) * c + k, step = t * c
                store(o.0, out, lanes); store(o.1, out + step, lanes)
                store(o.2, out + 2 * step, lanes); store(o.3, out + 3 * step, lanes)
                store(o.4, out + 4 * step, lanes); store(o.5, out + 5 * step, lanes)
            }
        }
    }

    /// y = f(Aᵀ M A + b) for every tile, cropped to the output, into `images` images at y; with
    /// `argmax`, y = maxpool₂ₓ₂(f(Aᵀ M A + b)) (each pooling window lies inside one 4×4 tile).
    func output(_ m: UnsafeMutablePointer<Float>, images: Int, bias: UnsafeMutablePointer<Float>?, relu: Bool,
                into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?, work: UnsafeMutablePointer<Float>) {
        let f = filters, t = images * tilesPerImage, line = outWidth * f, step = t * f
        let ph = outHeight / 2, pw = outWidth / 2
        let rows = UnsafeMutableRawPointer(work)      // Aᵀ M, 4 × 6 vectors; then the 4 × 4 outputs
        var tile = 0
        for image in 0..<images {
            let base = y + image * (argmax == nil ? outHeight * line : ph * pw * f)
            for i in 0..<tilesH {
                let height = min(4, outHeight - i * 4)
                for j in 0..<tilesW {
                    let width = min(4, outWidth - j * 4)
                    for k in stride(from: 0, to: f, by: 8) {
                        let lanes = min(8, f - k)
                        let b = bias.map { load($0 + k, lanes) } ?? .zero
                        let mt = m + tile * f + k
                        for s in 0..<6 {
                            let column = mt + s * step
                            let o = outputTransform(load(column, lanes), load(column + 6 * step, lanes),
                                                    load(column + 12 * step, lanes), load(column + 18 * step, lanes),
                                                    load(column + 24 * step, lanes), load(column + 30 * step, lanes))
                            put(rows, s, o.0); put(rows, 6 + s, o.1); put(rows, 12 + s, o.2); put(rows, 18 + s, o.3)
                        }
                        for r in 0..<height {
                            let o = outputTransform(get(rows, r * 6), get(rows, r * 6 + 1), get(rows, r * 6 + 2),
                                                    get(rows, r * 6 + 3), get(rows, r * 6 + 4), get(rows, r * 6 + 5))
                            let out = base + (i * 4 + r) * line + j * 4 * f + k
                            @inline(__always) func emit(_ s: Int, _ value: SIMD8<Float>) {
                                guard s < width else { return }
                                var z = value + b
                                if relu { z.replace(with: 0, where: z .< 0) }   // as Activation.relu
                                if argmax == nil { store(z, out + s * f, lanes) } else { put(rows, 24 + r * 4 + s, z) }
                            }
                            emit(0, o.0); emit(1, o.1); emit(2, o.2); emit(3, o.3)
                        }
                        if let argmax {
                            // The tile's 2×2 windows: maximum in scan order, strict (ties keep the first).
                            for wr in 0..<2 where i * 2 + wr < ph {
                                for wc in 0..<2 where j * 2 + wc < pw {
                                    let z0 = 24 + wr * 8 + wc * 2
                                    var best = get(rows, z0), taken = SIMD8<Int32>(repeating: 0)
                                    keepLarger(&best, &taken, get(rows, z0 + 1), 1)
                                    keepLarger(&best, &taken, get(rows, z0 + 4), 2)
                                    keepLarger(&best, &taken, get(rows, z0 + 5), 3)
                                    let at = ((i * 2 + wr) * pw + j * 2 + wc) * f + k
                                    store(best, base + at, lanes)
                                    let a = argmax + image * ph * pw * f + at
                                    if lanes == 8 {
                                        UnsafeMutableRawPointer(a).storeBytes(of: taken, as: SIMD8<Int32>.self)
                                    } else {
                                        for l in 0..<lanes { a[l] = taken[l] }
                                    }
                                }
                            }
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// dM (36, T, F) = A dZ Aᵀ for every tile, dZ = dy ⊙ f'(y) (zero beyond the output's edge);
    /// biasSums (F) += Σ dZ, in tile order.
    /// With `argmax`, dy and y are pooled: dZ is dy at each window's maximum (where y > 0 with
    /// `relu`) and 0 elsewhere.
    func outputGradient(_ dy: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: Bool,
                        argmax: UnsafeMutablePointer<Int32>?, images: Int, into dm: UnsafeMutablePointer<Float>,
                        biasSums: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        let f = filters, t = images * tilesPerImage, line = outWidth * f, step = t * f
        let ph = outHeight / 2, pw = outWidth / 2
        let cols = UnsafeMutableRawPointer(work)      // dZ Aᵀ, 4 × 6 vectors; the pooled case's dZ after them
        var tile = 0
        for image in 0..<images {
            let base = image * (argmax == nil ? outHeight * line : ph * pw * f)
            for i in 0..<tilesH {
                let height = min(4, outHeight - i * 4)
                for j in 0..<tilesW {
                    let width = min(4, outWidth - j * 4)
                    for k in stride(from: 0, to: f, by: 8) {
                        let lanes = min(8, f - k)
                        var sum = load(biasSums + k, lanes)
                        // dZ of the tile's 16 positions, after the cols' 24 vectors in the work area.
                        if let argmax {
                            // From the tile's 2×2 windows' gradients.
                            for index in 24..<40 { put(cols, index, .zero) }
                            for wr in 0..<2 where i * 2 + wr < ph {
                                for wc in 0..<2 where j * 2 + wc < pw {
                                    let at = base + ((i * 2 + wr) * pw + j * 2 + wc) * f + k
                                    let raw = load(dy + at, lanes)
                                    let g = relu ? raw.replacing(with: 0, where: .!(load(y! + at, lanes) .> 0)) : raw
                                    sum += g
                                    let taken = loadInt32(argmax + at, lanes)
                                    let z0 = 24 + wr * 8 + wc * 2
                                    put(cols, z0, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 0)))
                                    put(cols, z0 + 1, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 1)))
                                    put(cols, z0 + 4, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 2)))
                                    put(cols, z0 + 5, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 3)))
                                }
                            }
                        } else {
                            for r in 0..<4 {
                                for s in 0..<4 {
                                    guard r < height && s < width else {
                                        put(cols, 24 + r * 4 + s, .zero)
                                        continue
                                    }
                                    let at = base + (i * 4 + r) * line + (j * 4 + s) * f + k
                                    let raw = load(dy + at, lanes)
                                    let d = relu ? raw.replacing(with: 0, where: .!(load(y! + at, lanes) .> 0)) : raw
                                    sum += d
                                    put(cols, 24 + r * 4 + s, d)
                                }
                            }
                        }
                        // cols[r][·] = A · dZ[r][·] over s (4 → 6).
                        for r in 0..<4 {
                            let o = outputAdjoint(get(cols, 24 + r * 4), get(cols, 25 + r * 4), get(cols, 26 + r * 4),
                                                  get(cols, 27 + r * 4))
                            put(cols, r * 6, o.0); put(cols, r * 6 + 1, o.1); put(cols, r * 6 + 2, o.2)
                            put(cols, r * 6 + 3, o.3); put(cols, r * 6 + 4, o.4); put(cols, r * 6 + 5, o.5)
                        }
                        store(sum, biasSums + k, lanes)
                        // dM[·][s] = A · cols[·][s] over r (4 → 6), to positions ξ = 6r + s.
                        let out = dm + tile * f + k
                        for s in 0..<6 {
                            let o = outputAdjoint(get(cols, s), get(cols, 6 + s), get(cols, 12 + s), get(cols, 18 + s))
                            let column = out + s * step
                            store(o.0, column, lanes); store(o.1, column + 6 * step, lanes)
                            store(o.2, column + 12 * step, lanes); store(o.3, column + 18 * step, lanes)
                            store(o.4, column + 24 * step, lanes); store(o.5, column + 30 * step, lanes)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// dx = Σ_tiles B dV Bᵀ (overlapping tiles added in tile order) for `images` images at dx,
    /// which is overwritten; dV (36, T, C).
    func inputGradient(_ dv: UnsafeMutablePointer<Float>, images: Int, into dx: UnsafeMutablePointer<Float>,
                       work: UnsafeMutablePointer<Float>) {
        let c = channels, t = images * tilesPerImage, line = width * c, step = t * c
        let rows = UnsafeMutableRawPointer(work)      // dV Bᵀ, 6 × 6 vectors
        dx.update(repeating: 0, count: images * height * line)
        forEachInputTileBlock(images: images) { tile, k, lanes, offset, rr, cr in
            // rows[r][·] = B · dV[r][·] over s.
            let dt = dv + tile * c + k
            for r in 0..<6 {
                let at = dt + r * 6 * step
                let o = inputAdjoint(load(at, lanes), load(at + step, lanes), load(at + 2 * step, lanes),
                                     load(at + 3 * step, lanes), load(at + 4 * step, lanes),
                                     load(at + 5 * step, lanes))
                put(rows, r * 6, o.0); put(rows, r * 6 + 1, o.1); put(rows, r * 6 + 2, o.2)
                put(rows, r * 6 + 3, o.3); put(rows, r * 6 + 4, o.4); put(rows, r * 6 + 5, o.5)
            }
            // d[·][s] = B · rows[·][s] over r, added into dx where inside the image.
            let corner = dx + offset
            for s in cr {
                let o = inputAdjoint(get(rows, s), get(rows, 6 + s), get(rows, 12 + s), get(rows, 18 + s),
                                     get(rows, 24 + s), get(rows, 30 + s))
                @inline(__always) func add(_ r: Int, _ value: SIMD8<Float>) {
                    guard rr.contains(r) else { return }
                    let at = corner + r * line + s * c
                    store(load(at, lanes) + value, at, lanes)
                }
                add(0, o.0); add(1, o.1); add(2, o.2); add(3, o.3); add(4, o.4); add(5, o.5)
            }
        }
    }
}

// MARK: - Vectors of 8 channels

/// `lanes` (≤ 8) floats at p, zero-filled.
@inline(__always)
private func load(_ p: UnsafeMutablePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>()
    for i in 0..<lanes { v[i] = p[i] }
    return v
}

/// The first `lanes` (≤ 8) lanes of v to p.
@inline(__always)
private func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        return
    }
    for i in 0..<lanes { p[i] = v[i] }
}

/// `lanes` (≤ 8) Int32s at p; the missing lanes are −1.
@inline(__always)
private func loadInt32(_ p: UnsafeMutablePointer<Int32>, _ lanes: Int) -> SIMD8<Int32> {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Int32>.self) }
    var v = SIMD8<Int32>(repeating: -1)
    for i in 0..<lanes { v[i] = p[i] }
    return v
}

/// Vector `index` of a work area of vectors.
@inline(__always)
private func put(_ work: UnsafeMutableRawPointer, _ index: Int, _ v: SIMD8<Float>) {
    work.storeBytes(of: v, toByteOffset: index * 32, as: SIMD8<Float>.self)
}

@inline(__always)
private func get(_ work: UnsafeMutableRawPointer, _ index: Int) -> SIMD8<Float> {
    work.loadUnaligned(fromByteOffset: index * 32, as: SIMD8<Float>.self)
}

// MARK: - The 1-D transforms (with their common subexpressions shared)

typealias Six = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
typealias Four = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// Bᵀ d:  (4a − 5c + e, −4b − 4c + d + e, 4b − 4c − d + e, −2b − c + 2d + e, 2b − c − 2d + e, 4b − 5d + f)
@inline(__always)
private func inputTransform(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>,
                            _ e: SIMD8<Float>, _ f: SIMD8<Float>) -> Six {
    let ec = e - c, twice = 2 * (d - b)
    return (4 * (a - c) + ec, (d + e) - 4 * (b + c), (e - d) + 4 * (b - c), ec + twice, ec - twice,
            4 * (b - d) + (f - d))
}

/// B g, the adjoint of `inputTransform`:
/// (4a, −4b + 4c − 2d + 2e + 4f, −5a − 4b − 4c − d − e, b − c + 2d − 2e − 5f, a + b + c + d + e, f)
@inline(__always)
private func inputAdjoint(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>,
                          _ e: SIMD8<Float>, _ f: SIMD8<Float>) -> Six {
    let p = b + c, q = d + e, m = c - b, n = e - d
    return (4 * a, 4 * (m + f) + 2 * n, -(4 * (p + a) + (q + a)), -(m + 2 * n + 5 * f), a + p + q, f)
}

/// Aᵀ m (4 from 6):  (a + b + c + d + e, b − c + 2d − 2e, b + c + 4d + 4e, b − c + 8d − 8e + f)
@inline(__always)
private func outputTransform(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>,
                             _ e: SIMD8<Float>, _ f: SIMD8<Float>) -> Four {
    let p = b + c, q = d + e, r = b - c, s = d - e
    return (a + p + q, r + 2 * s, p + 4 * q, r + 8 * s + f)
}

/// A g (6 from 4), the adjoint of `outputTransform`: (a, a + b + c + d, a − b + c − d,
/// a + 2b + 4c + 8d, a − 2b + 4c − 8d, d)
@inline(__always)
private func outputAdjoint(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> Six {
    let p = a + c, q = b + d, r = a + 4 * c, s = 2 * (b + 4 * d)
    return (a, p + q, p - q, r + s, r - s, d)
}

/// G g for one 3-vector (G is 6×3): (g0/4, −(g0 + g1 + g2)/6, −(g0 − g1 + g2)/6,
/// g0/24 + g1/12 + g2/6, g0/24 − g1/12 + g2/6, g2).
@inline(__always)
private func kernelColumn(_ g0: SIMD8<Float>, _ g1: SIMD8<Float>, _ g2: SIMD8<Float>) -> Six {
    let sum: SIMD8<Float> = g0 + g2
    let a: SIMD8<Float> = g0 / 24 + g2 / 6, b: SIMD8<Float> = g1 / 12
    let u1: SIMD8<Float> = -(sum + g1) / 6, u2: SIMD8<Float> = -(sum - g1) / 6
    return (g0 / 4, u1, u2, a + b, a - b, g2)
}

/// Gᵀ d for one 6-vector, the adjoint of `kernelColumn`.
@inline(__always)
private func kernelAdjoint(_ d0: SIMD8<Float>, _ d1: SIMD8<Float>, _ d2: SIMD8<Float>, _ d3: SIMD8<Float>,
                           _ d4: SIMD8<Float>, _ d5: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let p: SIMD8<Float> = d1 + d2, q: SIMD8<Float> = d3 + d4
    let m: SIMD8<Float> = d2 - d1, n: SIMD8<Float> = d3 - d4
    let g0: SIMD8<Float> = d0 / 4 - p / 6 + q / 24
    let g1: SIMD8<Float> = m / 6 + n / 12
    let g2: SIMD8<Float> = (q - p) / 6 + d5
    return (g0, g1, g2)
}
