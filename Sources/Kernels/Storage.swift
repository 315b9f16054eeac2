// Contiguous Float memory: `FloatStorage` owns it, `FloatView` points into it.
//
// Everything above this module handles views and passes them to kernels; only kernels read or write
// through them. Storage is allocated when a model is built and never inside a training step.

/// Owns `count` zero-initialised Floats, 64-byte aligned (one cache line, one AVX-512 vector).
public final class FloatStorage: @unchecked Sendable {
    public let count: Int
    let base: UnsafeMutablePointer<Float>

    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(1, count) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(1, count))
        base.initialize(repeating: 0, count: count)
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        for (i, v) in values.enumerated() { base[i] = v }
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    /// The whole storage as a view.
    public var view: FloatView { FloatView(base: base, count: count, owner: self) }

    /// A view of `count` Floats starting at `offset`.
    public func view(offset: Int, count: Int) -> FloatView { view.slice(offset, count) }

    /// A copy of the contents (tests, reports, checkpoints; never the training step).
    public var array: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The raw bytes in memory order (little-endian IEEE 754 on every supported machine).
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count * MemoryLayout<Float>.stride))
    }
}

/// A window onto Floats owned by a `FloatStorage`, which it keeps alive (a view of a temporary
/// storage can never dangle).
public struct FloatView: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Float>
    public let count: Int
    @usableFromInline let owner: FloatStorage

    @usableFromInline init(base: UnsafeMutablePointer<Float>, count: Int, owner: FloatStorage) {
        self.base = base
        self.count = count
        self.owner = owner
    }

    /// `count` Floats starting at `offset` of this view.
    @inlinable public func slice(_ offset: Int, _ count: Int) -> FloatView {
        precondition(offset >= 0 && count >= 0 && offset + count <= self.count,
                     "slice \(offset)..<\(offset + count) outside a view of \(self.count)")
        return FloatView(base: base + offset, count: count, owner: owner)
    }

    /// The elements `range` of this view (`slice` by range).
    @inlinable public subscript(range: Range<Int>) -> FloatView { slice(range.lowerBound, range.count) }

    /// Element access for tests and small bookkeeping; kernels use the pointer directly.
    @inlinable public subscript(i: Int) -> Float {
        get { precondition(i >= 0 && i < count); return base[i] }
        nonmutating set { precondition(i >= 0 && i < count); base[i] = newValue }
    }

    /// A copy of the contents.
    public var array: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Overwrites the contents with `values` (same count).
    public func assign(_ values: [Float]) {
        precondition(values.count == count)
        for (i, v) in values.enumerated() { base[i] = v }
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { base.update(repeating: value, count: count) }

    /// Copies `source` (same count) into this view.
    public func copy(from source: FloatView) {
        precondition(source.count == count)
        base.update(from: source.base, count: count)
    }

    /// The raw bytes of this view.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count * MemoryLayout<Float>.stride))
    }
}
