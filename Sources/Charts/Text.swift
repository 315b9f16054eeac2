// Text that goes into SVG and HTML: numbers with a fixed, short precision (never the locale's
// formatting, so a value always gives the same bytes), escaping of everything that came from
// data, and an estimate of how wide a line of text is drawn (for layout; there is no font to ask).

/// Number formatting with a fixed precision, independent of the locale.
public enum Format {
    /// `value` with exactly `decimals` digits after the point ("0.50", "-3", "1250.0"), rounded
    /// half away from zero; minus zero prints as "0". Non-finite values print as "NaN", "inf",
    /// "-inf". `decimals` is clamped to 0…9.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value < 0 ? "-inf" : "inf") }
        let d = min(max(decimals, 0), 9)
        var unit: Double = 1
        for _ in 0..<d { unit *= 10 }
        let scaled = (abs(value) * unit).rounded(.toNearestOrAwayFromZero)
        guard scaled < 9.0e18 else { return scientific(value) }
        let n = UInt64(scaled)
        let whole = n / UInt64(unit), fraction = n % UInt64(unit)
        var text = n == 0 || value > 0 ? "" : "-"
        text += String(whole)
        if d > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: d - digits.count) + digits
        }
        return text
    }

    /// A coordinate or length for SVG: at most two decimals, trailing zeros dropped ("12.5", "3").
    public static func coordinate(_ value: Double) -> String {
        var text = fixed(value, decimals: 2)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    /// An integer with thin groups of three: 60000 → "60,000".
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return value < 0 ? "-" + out : out
    }

    /// A fraction as a percentage: 0.98125 with 2 decimals → "98.13%".
    public static func percent(_ fraction: Double, decimals: Int = 2) -> String {
        fixed(fraction * 100, decimals: decimals) + "%"
    }

    /// A large or tiny magnitude in scientific notation with three significant digits ("1.23e-7").
    static func scientific(_ value: Double) -> String {
        guard value.isFinite, value != 0 else { return fixed(value, decimals: 0) }
        var exponent = Int((abs(value)).log10Floor)
        var mantissa = value / power10(exponent)
        if abs(Double(fixed(mantissa, decimals: 2)) ?? 0) >= 10 { exponent += 1; mantissa /= 10 }
        return fixed(mantissa, decimals: 2) + "e" + String(exponent)
    }
}

/// 10^k for an integer k, exactly for the range doubles hold exactly (|k| ≤ 22).
func power10(_ k: Int) -> Double {
    var result: Double = 1
    for _ in 0..<abs(k) { result *= 10 }
    return k < 0 ? 1 / result : result
}

extension Double {
    /// ⌊log10(self)⌋ for a positive finite value, computed so that exact powers of ten land on
    /// their own exponent (0.001 → -3, not -4 from rounding).
    var log10Floor: Int {
        precondition(self > 0 && isFinite)
        var k = 0
        var p: Double = 1
        if self >= 1 {
            while p * 10 <= self { p *= 10; k += 1 }
        } else {
            while p > self { k -= 1; p = power10(k) }
        }
        return k
    }
}

/// Escaping for HTML and XML (SVG) text and attribute values.
public enum Markup {
    /// `text` with `& < > " '` replaced by entities, and characters XML 1.0 forbids (control
    /// characters other than tab, newline and return) replaced by U+FFFD, so the result is safe
    /// both as element text and inside a quoted attribute, in HTML and in a standalone SVG file.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

/// An estimate of drawn text width in a system sans-serif, from per-character classes (narrow,
/// digit, lowercase, uppercase, wide), calibrated on DejaVu Sans (the widest of the usual system
/// faces), so labels laid out with it do not collide in any of them.
public enum TextMetrics {
    /// Width in the same units as `size` (the font size), bold text 8% wider.
    public static func width(_ text: String, size: Double, bold: Bool = false) -> Double {
        var em = 0.0
        for c in text.unicodeScalars {
            switch c {
            case "i", "j", "l", "|", "!", ".", ",", ":", ";", "'", "`": em += 0.30
            case " ", "(", ")", "[", "]", "f", "t", "r", "-", "/", "\u{00B7}": em += 0.38
            case "0"..."9", "+", "=", "<", ">", "#", "$", "_", "~", "\u{00D7}", "\u{00B1}": em += 0.64
            case "m", "w", "M", "W", "@", "%", "\u{2014}": em += 0.95
            case "A"..."Z": em += 0.72
            default: em += c.value < 0x80 ? 0.60 : 0.75
            }
        }
        return em * size * (bold ? 1.08 : 1)
    }
}
