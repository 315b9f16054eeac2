// The counter-based generator against Random123's published vectors, and the streams derived from
// it by (seed, name, index, position).
import Kernels
import Testing

@Suite("Random streams")
struct RandomTests {
    @Test("Philox4x32-10 matches Random123's known-answer vectors")
    func philoxKnownAnswers() {
        #expect(philox4x32(counter: (0, 0, 0, 0), key: (0, 0)) == (0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8))
        let ones = UInt32.max
        #expect(philox4x32(counter: (ones, ones, ones, ones), key: (ones, ones))
                == (0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd))
        #expect(philox4x32(counter: (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
                == (0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1))
    }

    @Test("a stream is a function of (seed, name, index, position)")
    func streams() {
        var a = RandomStream(seed: 42, name: "shuffle", index: 3)
        var b = RandomStream(seed: 42, name: "shuffle", index: 3)
        let first = (0..<10).map { _ in a.nextUInt32() }
        #expect(first == (0..<10).map { _ in b.nextUInt32() })
        var other = RandomStream(seed: 42, name: "dropout", index: 3)
        #expect(first != (0..<10).map { _ in other.nextUInt32() })
        var nextIndex = RandomStream(seed: 42, name: "shuffle", index: 4)
        #expect(first != (0..<10).map { _ in nextIndex.nextUInt32() })
        // Resuming from a stored position continues the same sequence.
        var resumed = RandomStream(seed: 42, name: "shuffle", index: 3, position: 6)
        #expect((0..<4).map { _ in resumed.nextUInt32() } == Array(first[6...]))
    }

    @Test("uniforms, bounded integers, normals and permutations are well formed")
    func distributions() {
        var s = RandomStream(seed: 1, name: "test")
        let u = (0..<10_000).map { _ in s.nextUniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(u.reduce(0, +) / 10_000 - 0.5) < 0.02)
        let ints = (0..<10_000).map { _ in s.nextInt(below: 7) }
        #expect(Set(ints) == Set(0..<7))
        let normals = (0..<20_000).map { _ in Double(s.nextNormal()) }
        let mean = normals.reduce(0, +) / 20_000
        let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20_000
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        let truncated = (0..<5_000).map { _ in s.nextTruncatedNormal(stddev: 0.5) }
        #expect(truncated.allSatisfy { abs($0) <= 1 })
        let p = s.permutation(1000)
        #expect(p.sorted() == Array(0..<1000) && p != Array(0..<1000))
    }
}
