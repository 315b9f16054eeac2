// Named, counter-based random streams (Philox4x32-10, Salmon et al., SC'11 — the generator of
// Random123, cuRAND and PyTorch's CUDA backend).
//
// A stream is a key (derived from the experiment's seed and the stream's name) and a counter. Its
// n-th block of four 32-bit words is a pure function of (key, n), so:
//   * streams never interfere: adding a dropout layer does not change the weight initialisation;
//   * a stream's position is one number, which a checkpoint can store and restore exactly;
//   * a kernel can draw element e's number directly from block e/4, in any order, on any thread.

/// Philox4x32-10: four 32-bit counter words and two key words → four random 32-bit words.
@inlinable
public func philox4x32(counter c: (UInt32, UInt32, UInt32, UInt32),
                       key k: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
    var (c0, c1, c2, c3) = c
    var (k0, k1) = k
    for round in 0..<10 {
        if round > 0 {
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
        let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                            UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
    }
    return (c0, c1, c2, c3)
}

/// Philox4x32-10 of eight counters at once (lane k: counter (c0[k], c1[k], c2, c3)), the same
/// bits as `philox4x32` lane by lane; the 32×32→64-bit products run as vector multiplies.
@inlinable
public func philox4x32(counters c0: SIMD8<UInt32>, _ c1: SIMD8<UInt32>, _ c2: UInt32, _ c3: UInt32,
                       key k: (UInt32, UInt32)) -> (SIMD8<UInt32>, SIMD8<UInt32>, SIMD8<UInt32>, SIMD8<UInt32>) {
    var (x0, x1, x2, x3) = (c0, c1, SIMD8<UInt32>(repeating: c2), SIMD8<UInt32>(repeating: c3))
    var (k0, k1) = k
    for round in 0..<10 {
        if round > 0 {
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        let p0 = SIMD8<UInt64>(truncatingIfNeeded: x0) &* 0xD251_1F53
        let p1 = SIMD8<UInt64>(truncatingIfNeeded: x2) &* 0xCD9E_8D57
        (x0, x1, x2, x3) = (SIMD8<UInt32>(truncatingIfNeeded: p1 &>> 32) ^ x1 ^ k0, SIMD8<UInt32>(truncatingIfNeeded: p1),
                            SIMD8<UInt32>(truncatingIfNeeded: p0 &>> 32) ^ x3 ^ k1, SIMD8<UInt32>(truncatingIfNeeded: p0))
    }
    return (x0, x1, x2, x3)
}

/// A named random stream. Value type: copying it forks the position, nothing is shared.
public struct RandomStream: Sendable, Equatable {
    /// The Philox key, fixed for the stream's life.
    public let key: (UInt32, UInt32)
    /// Distinguishes sub-streams of one name (e.g. the epoch of a shuffle); counter words 2 and 3.
    public let index: UInt64
    /// Words drawn so far. Storing it and `index` is all a checkpoint needs to resume the stream.
    public private(set) var position: UInt64 = 0

    public static func == (a: RandomStream, b: RandomStream) -> Bool {
        a.key == b.key && a.index == b.index && a.position == b.position
    }

    /// The stream named `name` of the experiment seeded with `seed`.
    public init(seed: UInt64, name: String, index: UInt64 = 0, position: UInt64 = 0) {
        // FNV-1a of the name, then a SplitMix64 finaliser of seed ⊕ name: different names give
        // unrelated keys even for neighbouring seeds.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        var z = seed ^ hash
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        key = (UInt32(truncatingIfNeeded: z), UInt32(truncatingIfNeeded: z >> 32))
        self.index = index
        self.position = position
    }

    /// The same named stream at sub-stream `index`, from its start (no name hashing again).
    public func indexed(_ index: UInt64) -> RandomStream {
        var copy = self
        copy.setIndex(index)
        return copy
    }

    private mutating func setIndex(_ newIndex: UInt64) {
        self = RandomStream(key: key, index: newIndex)
    }

    private init(key: (UInt32, UInt32), index: UInt64) {
        self.key = key
        self.index = index
    }

    /// Block `block` of this stream (four words), independent of the stream's position.
    @inlinable
    public func block(_ block: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        philox4x32(counter: (UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32),
                             UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32)),
                   key: key)
    }

    /// Blocks `first ..< first + 8` of this stream: lane k of word w is word w of block first + k.
    @inlinable
    public func blocks8(_ first: UInt64) -> (SIMD8<UInt32>, SIMD8<UInt32>, SIMD8<UInt32>, SIMD8<UInt32>) {
        let n = SIMD8<UInt64>(repeating: first) &+ SIMD8<UInt64>(0, 1, 2, 3, 4, 5, 6, 7)
        return philox4x32(counters: SIMD8<UInt32>(truncatingIfNeeded: n), SIMD8<UInt32>(truncatingIfNeeded: n &>> 32),
                          UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32), key: key)
    }

    /// Word `n` of this stream, independent of the stream's position.
    @inlinable
    public func word(_ n: UInt64) -> UInt32 {
        let b = block(n >> 2)
        switch n & 3 {
        case 0: return b.0
        case 1: return b.1
        case 2: return b.2
        default: return b.3
        }
    }

    /// The next 32 random bits.
    public mutating func nextUInt32() -> UInt32 {
        defer { position &+= 1 }
        return word(position)
    }

    /// Uniform in [0, 1), 24 random bits (every Float in the range that is a multiple of 2⁻²⁴).
    public mutating func nextUniform() -> Float {
        Float(nextUInt32() >> 8) * 0x1p-24
    }

    /// Uniform integer in 0..<bound, without modulo bias (Lemire's multiply-and-reject).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0 && bound <= Int(UInt32.max))
        let range = UInt32(bound)
        var product = UInt64(nextUInt32()) &* UInt64(range)
        if UInt32(truncatingIfNeeded: product) < range {
            let threshold = (0 &- range) % range
            while UInt32(truncatingIfNeeded: product) < threshold {
                product = UInt64(nextUInt32()) &* UInt64(range)
            }
        }
        return Int(product >> 32)
    }

    /// Standard normal (Box–Muller; uses two words, returns one value so positions stay simple).
    public mutating func nextNormal() -> Float {
        // u1 in (0, 1]: log never sees 0.
        let u1 = (Double(nextUInt32()) + 1) * 0x1p-32
        let u2 = Double(nextUInt32()) * 0x1p-32
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// Normal with `stddev`, redrawn while outside ±2·stddev (TensorFlow's truncated_normal).
    public mutating func nextTruncatedNormal(stddev: Float) -> Float {
        while true {
            let x = nextNormal()
            if abs(x) <= 2 { return x * stddev }
        }
    }

    /// A uniformly random permutation of 0..<count (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        if count < 2 { return order }
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, nextInt(below: i + 1))
        }
        return order
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
