// Axes: what range a chart shows and which ticks it labels. Linear axes step by 1, 2 or 5 times
// a power of ten and widen to whole steps; log axes mark decades, and 2 and 5 within them when
// the data spans three decades or fewer.

import Foundation

/// One axis of a chart: its title, scale, optional fixed ends and how ticks are labelled.
public struct Axis: Sendable {
    /// How values map to positions.
    public enum Scale: Sendable {
        case linear
        /// Logarithmic; values ≤ 0 are not drawn.
        case log
    }

    /// How tick values are written.
    public enum TickFormat: Sendable {
        /// Plain decimals with as many digits as the step needs: "0.975".
        case decimal
        /// Thousands and millions: "200k", "1.2M".
        case si
        /// Fractions as percentages: 0.98 → "98%".
        case percent
    }

    public var label: String
    public var scale: Scale
    /// The lowest value shown; nil: from the data, widened to a whole step.
    public var min: Double?
    /// The highest value shown; nil: from the data, widened to a whole step.
    public var max: Double?
    public var format: TickFormat
    /// Steps of at least 1 (epochs, counts).
    public var integers: Bool

    public init(_ label: String = "", scale: Scale = .linear, min: Double? = nil, max: Double? = nil,
                format: TickFormat = .decimal, integers: Bool = false) {
        self.label = label
        self.scale = scale
        self.min = min
        self.max = max
        self.format = format
        self.integers = integers
    }

    /// The range and ticks for data spanning `dataMin…dataMax`, aiming at about `target` ticks.
    /// Non-finite bounds (no data) give 0…1 (1…10 on a log axis).
    public func ticks(dataMin: Double, dataMax: Double, target: Int = 6) -> Ticks {
        switch scale {
        case .linear: return linearTicks(dataMin, dataMax, target: target)
        case .log: return logTicks(dataMin, dataMax)
        }
    }

    private func linearTicks(_ dataMin: Double, _ dataMax: Double, target: Int) -> Ticks {
        var lo = min ?? (dataMin.isFinite ? dataMin : 0)
        var hi = max ?? (dataMax.isFinite ? dataMax : 1)
        if lo > hi { swap(&lo, &hi) }
        if lo == hi {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            if min == nil { lo -= pad }
            if max == nil || lo == hi { hi += pad }
        }
        var step = Self.niceStep((hi - lo) / Double(Swift.max(target - 1, 1)))
        if integers { step = Swift.max(step, 1) }
        if min == nil { lo = (lo / step + 1e-9).rounded(.down) * step }
        if max == nil { hi = (hi / step - 1e-9).rounded(.up) * step }
        let first = Int((lo / step - 1e-9).rounded(.up)), last = Int((hi / step + 1e-9).rounded(.down))
        let values = first <= last ? (first...last).map { Double($0) * step } : []
        return Ticks(lower: lo, upper: hi, isLog: false, values: values,
                     labels: values.map { label($0, step: step) })
    }

    private func logTicks(_ dataMin: Double, _ dataMax: Double) -> Ticks {
        var lo = min ?? (dataMin.isFinite && dataMin > 0 ? dataMin : 1)
        var hi = max ?? (dataMax.isFinite && dataMax > 0 ? dataMax : 10)
        if lo <= 0 { lo = hi / 1000 }
        if lo > hi { swap(&lo, &hi) }
        if lo == hi { lo /= 2; hi *= 2 }
        let k0 = lo.log10Floor, k1 = hi.log10Floor + 1
        let fine = hi / lo <= 1000
        var candidates: [Double] = []
        for k in (k0 - 1)...k1 {
            for m in fine ? [1.0, 2, 5] : [1.0] { candidates.append(m * power10(k)) }
        }
        // Tolerances: the candidates are exact decimal values only to within a rounding.
        if min == nil { lo = candidates.last { $0 <= lo * (1 + 1e-9) } ?? lo }
        if max == nil { hi = candidates.first { $0 >= hi * (1 - 1e-9) } ?? hi }
        let values = candidates.filter { $0 >= lo * (1 - 1e-9) && $0 <= hi * (1 + 1e-9) }
        return Ticks(lower: lo, upper: hi, isLog: true, values: values, labels: values.map { label($0, step: $0) })
    }

    /// The 1-2-5 step at least `raw`: 1, 2 or 5 times a power of ten.
    public static func niceStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let magnitude = power10(raw.log10Floor)
        for m in [1.0, 2, 5] where m * magnitude >= raw * (1 - 1e-9) { return m * magnitude }
        return 10 * magnitude
    }

    /// A tick's text: as many decimals as `step` needs, in this axis's format.
    func label(_ value: Double, step: Double) -> String {
        let decimals = { (s: Double) in s > 0 && s.isFinite ? Swift.max(0, -s.log10Floor) : 0 }
        switch format {
        case .decimal:
            let v = abs(value)
            if v != 0 && (v < 1e-4 || v >= 1e7) { return Format.scientific(value) }
            if v == 0 && step < 1e-4 { return "0" }  // beside scientific labels, not "0.000000"
            if v >= 10_000 && decimals(step) == 0 { return Format.grouped(Int(value.rounded())) }
            return Format.fixed(value, decimals: decimals(step))
        case .percent:
            return Format.fixed(value * 100, decimals: decimals(step * 100)) + "%"
        case .si:
            let v = abs(value)
            let (unit, suffix): (Double, String) = v >= 1e9 ? (1e9, "G") : v >= 1e6 ? (1e6, "M") : v >= 1e3 ? (1e3, "k") : (1, "")
            var text = Format.fixed(value / unit, decimals: decimals(step / unit))
            if text.contains(".") {
                while text.hasSuffix("0") { text.removeLast() }
                if text.hasSuffix(".") { text.removeLast() }
            }
            return text + suffix
        }
    }
}

/// The range an axis shows and its labelled ticks.
public struct Ticks: Sendable, Equatable {
    /// The value at the axis's start.
    public let lower: Double
    /// The value at the axis's end.
    public let upper: Double
    public let isLog: Bool
    /// The tick values, ascending, all within lower…upper.
    public let values: [Double]
    /// Their texts.
    public let labels: [String]

    /// The position of `value` when `lower` is at `start` and `upper` at `end` (linear in the
    /// value, or in its logarithm); nil for a value a log axis cannot show.
    public func position(_ value: Double, start: Double, end: Double) -> Double? {
        guard value.isFinite else { return nil }
        let t: Double
        if isLog {
            guard value > 0 else { return nil }
            t = log10(value / lower) / log10(upper / lower)
        } else {
            t = (value - lower) / (upper - lower)
        }
        return start + t * (end - start)
    }

    /// Whether `value` lies within the shown range.
    public func contains(_ value: Double) -> Bool {
        value >= Swift.min(lower, upper) - 1e-12 && value <= Swift.max(lower, upper) + 1e-12
    }
}
