// Dropout's mask: the rate, the scaling of what is kept, the same mask on any thread count.
import Kernels
import Testing

@Suite("Dropout")
struct DropoutKernelTests {
    @Test("drops about `rate` of the elements, scales the rest, the same on any thread count")
    func dropout() {
        let count = 50_000
        let x = FloatStorage((0..<count).map { _ in 1 })
        var masks: [[Float]] = []
        for threads in [1, 2] {
            let y = FloatStorage(count: count), mask = FloatStorage(count: count)
            dropoutForward(x: x.view, y: y.view, mask: mask.view, count: count, rate: 0.25,
                           stream: RandomStream(seed: 1, name: "dropout/d", index: 8),
                           pool: ThreadPool(threadCount: threads))
            let kept = y.array.filter { $0 != 0 }
            #expect(abs(Double(kept.count) / Double(count) - 0.75) < 0.01)
            #expect(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 })
            masks.append(mask.array)
        }
        #expect(masks[0] == masks[1])
    }

    @Test("the AVX-512 mask is the Swift loop's, bit for bit, for counts that end inside a block of 64",
          .enabled(if: VectorCode.avx512.isAvailable), arguments: [4, 60, 64, 68, 4_100, 9_999, 50_000])
    func vectorMatchesPortable(_ count: Int) {
        var s = RandomStream(seed: 4, name: "dropout input")
        let x = FloatStorage((0..<count).map { _ in s.nextNormal() })
        var results: [[Float]] = []
        for (code, position) in [(VectorCode.portable, 0), (.avx512, 0), (.portable, 1_000_004), (.avx512, 1_000_004)] {
            let y = FloatStorage(count: count), mask = FloatStorage(count: count)
            var stream = RandomStream(seed: 2, name: "dropout/d", index: 3)
            for _ in 0..<position { _ = stream.nextUInt32() }
            dropoutForward(x: x.view, y: y.view, mask: mask.view, count: count, rate: 0.3, stream: stream,
                           pool: ThreadPool(threadCount: 2), code: code)
            results.append(y.array + mask.array)
        }
        #expect(results[0] == results[1])
        #expect(results[2] == results[3])
        #expect(results[0] != results[2])
    }

    @Test("backward: dx = dy · mask into another buffer or in place, the same on any thread count")
    func backward() {
        let count = 20_000
        var stream = RandomStream(seed: 9, name: "dropout backward")
        let dy = (0..<count).map { _ in stream.nextNormal() }
        let mask = FloatStorage((0..<count).map { _ in stream.nextUniform() < 0.3 ? 0 : 1 / 0.7 })
        let expected = (0..<count).map { dy[$0] * mask.array[$0] }
        for threads in [1, 2] {
            let source = FloatStorage(dy), dx = FloatStorage(count: count)
            dropoutBackward(dy: source.view, mask: mask.view, into: dx.view, count: count,
                            pool: ThreadPool(threadCount: threads))
            #expect(dx.array == expected)
            #expect(source.array == dy)
            dropoutBackward(dy: source.view, mask: mask.view, into: source.view, count: count,
                            pool: ThreadPool(threadCount: threads))
            #expect(source.array == expected)
        }
    }
}
