// How numbers are written for people — the model summary, console lines, report.md, comparison
// tables and error messages — in one place, so that every output writes a figure the same way.
// (report.json and the CSV files write the shortest text that reads back as the same Double.)
import Foundation

public enum Format {
    /// Thousands separated by commas: 101770 → "101,770".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Keras's size notation, powers of 1024 with two decimals: 407080 → "397.54 KB".
    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(n), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) \(units[unit])"
    }

    /// `digits` decimals, no exponent, no locale: fixed(0.98765, 2) → "0.99".
    public static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    /// A fraction as a percentage with two decimals: 0.97532 → "97.53%".
    public static func percent(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }

    /// `digits` significant digits, in exponent form only when very large or small (printf's %g):
    /// significant(0.00081128, 4) → "0.0008113", significant(3.2e18, 3) → "3.2e+18".
    public static func significant(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)g", x) }

    /// Exponent form with `digits` decimals: exponential(0.001, 4) → "1.0000e-03".
    public static func exponential(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)e", x) }
}
