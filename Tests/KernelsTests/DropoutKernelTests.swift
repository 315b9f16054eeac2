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
}
