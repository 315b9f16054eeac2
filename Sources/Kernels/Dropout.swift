// Inverted dropout with a counter-based mask: element e of the mask comes from word e of the
// stream, so the mask is the same however the work is split and needs no stored RNG state
// beyond the stream itself.
import CKernels

/// One step's draw of a dropout layer: which elements it keeps. Element e is kept when word e of
/// `stream` (positioned for this step, on a block boundary) is at least rate · 2³², i.e. when
/// uniform(e) ≥ rate; a kept element is multiplied by `keep` = 1 / (1 − rate).
public struct DropoutDraw: Sendable {
    public let rate: Float
    public let stream: RandomStream
    public var keep: Float { 1 / (1 - rate) }

    public init(rate: Float, stream: RandomStream) {
        precondition(rate >= 0 && rate < 1)
        // Whole blocks only: the caller advances the stream by a multiple of 4 words per call.
        precondition(stream.position % 4 == 0, "dropout stream must sit on a block boundary")
        self.rate = rate
        self.stream = stream
    }

    /// y[e] = x[e] · mask[e] for e in `range` (bounds multiples of 4, so element e always takes
    /// lane e % 4 of block e / 4), mask[e] = keep or 0; the mask is stored where `mask` is given
    /// (x may be y). `code` picks the build (the tests compare them; the masks are the same).
    @inline(__always)
    func apply(_ range: Range<Int>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
               mask: UnsafeMutablePointer<Float>?, code: VectorCode) {
        let keep = keep
        let threshold = UInt64((Double(rate) * 4_294_967_296).rounded(.up))
        let firstBlock = stream.position / 4
        let wide = threshold < 1 << 32, cut = UInt32(truncatingIfNeeded: threshold)
        var e = range.lowerBound
        if wide && code == .avx512 {                 // the same, 64 elements at a time
            ck_dropout(range.count, firstBlock &+ UInt64(e / 4), stream.key.0, stream.key.1, stream.index, cut, keep,
                       x + e, y + e, mask.map { $0 + e })
            return
        }
        guard let mp = mask else {
            // The Swift loops below keep the mask as they go: in a buffer of the range's own.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: range.count) { buffer in
                apply(range, x: x, y: y, mask: buffer.baseAddress! - range.lowerBound, code: code)
            }
            return
        }
        let xp = x, yp = y
        // 32 elements (8 blocks) at a time: word w of block k decides element 4k + w. The masks
        // are made 8 blocks at a time (in block order), put in element order through a small
        // buffer, then y = x · mask 8 elements at a time.
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 4) { buffer in
            let t = UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: Float.self)
            // keep where w ≥ cut, i.e. where w − cut does not borrow: bit operations only, since
            // an unsigned vector comparison compiles to a lane-by-lane loop on baseline x86-64.
            let b = SIMD8<UInt32>(repeating: cut), keepBits = SIMD8<UInt32>(repeating: keep.bitPattern)
            @inline(__always) func masks(_ a: SIMD8<UInt32>) -> SIMD8<Float> {
                let borrow = ((~a & b) | (~(a ^ b) & (a &- b))) &>> 31
                return unsafeBitCast(keepBits & ~(0 &- borrow), to: SIMD8<Float>.self)
            }
            while wide && e + 32 <= range.upperBound {
                let (b0, b1, b2, b3) = stream.blocks8(firstBlock &+ UInt64(e / 4))
                buffer[0] = masks(b0)
                buffer[1] = masks(b1)
                buffer[2] = masks(b2)
                buffer[3] = masks(b3)
                let m = mp + e
                for k in 0..<8 {
                    m[4 &* k] = t[k]
                    m[4 &* k &+ 1] = t[8 &+ k]
                    m[4 &* k &+ 2] = t[16 &+ k]
                    m[4 &* k &+ 3] = t[24 &+ k]
                }
                for part in 0..<4 {
                    let at = e &+ 8 &* part
                    let xv = UnsafeRawPointer(xp + at).loadUnaligned(as: SIMD8<Float>.self)
                    let mv = UnsafeRawPointer(mp + at).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(yp + at).storeBytes(of: xv * mv, as: SIMD8<Float>.self)
                }
                e += 32
            }
        }
        while e < range.upperBound {
            let b = stream.block(firstBlock &+ UInt64(e / 4))
            for lane in 0..<min(4, range.upperBound - e) {
                let word = lane == 0 ? b.0 : lane == 1 ? b.1 : lane == 2 ? b.2 : b.3
                let m: Float = UInt64(word) >= threshold ? keep : 0
                mp[e + lane] = m
                yp[e + lane] = xp[e + lane] * m
            }
            e += 4
        }
    }
}

/// mask[e] = (uniform(e) ≥ rate) / (1 - rate);  y[e] = x[e] · mask[e]
/// `stream` is the dropout stream positioned for this call; word `e` of it decides element e.
/// `code` picks the build (the tests compare them; the masks are the same).
public func dropoutForward(x: FloatView, y: FloatView, mask: FloatView, count: Int, rate: Float,
                           stream: RandomStream, pool: ThreadPool? = nil,
                           code: VectorCode = .best) {
    precondition(x.count >= count && y.count >= count && mask.count >= count)
    let draw = DropoutDraw(rate: rate, stream: stream)
    let xp = x.base, yp = y.base, mp = mask.base
    forEachChunk(count, pool: pool) { range in     // chunk bounds are multiples of 4
        draw.apply(range, x: xp, y: yp, mask: mp, code: code)
    }
}

/// dx = dy · mask, in slices over the pool (each element alone: the same bits on any number of
/// threads). dx may be dy.
public func dropoutBackward(dy: FloatView, mask: FloatView, into dx: FloatView, count: Int, pool: ThreadPool?) {
    precondition(dy.count >= count && mask.count >= count && dx.count >= count)
    let d = dy.base, m = mask.base, out = dx.base
    forEachChunk(count, pool: pool) { range in
        for e in range { out[e] = d[e] * m[e] }
    }
}
