// Colours and line styles. Series colours are Okabe & Ito's palette (distinguishable with the
// common colour-vision deficiencies, and in gray print by lightness); the heat map's scale is
// one hue (ColorBrewer "Blues"), so its order reads without telling hues apart.

import Foundation

/// An sRGB colour.
public struct Color: Sendable, Equatable, Hashable {
    public let red: UInt8
    public let green: UInt8
    public let blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// From 0xRRGGBB.
    public init(_ rgb: UInt32) {
        self.init(red: UInt8(rgb >> 16 & 0xFF), green: UInt8(rgb >> 8 & 0xFF), blue: UInt8(rgb & 0xFF))
    }

    /// "#rrggbb".
    public var hex: String {
        let digits = Array("0123456789abcdef")
        var s = "#"
        for v in [red, green, blue] {
            s.append(digits[Int(v >> 4)])
            s.append(digits[Int(v & 15)])
        }
        return s
    }

    /// WCAG relative luminance, 0 (black) … 1 (white).
    public var luminance: Double {
        func linear(_ v: UInt8) -> Double {
            let c = Double(v) / 255
            return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    }

    /// The straight mix `t` of the way from `self` to `other`.
    public func mixed(with other: Color, _ t: Double) -> Color {
        func m(_ a: UInt8, _ b: UInt8) -> UInt8 {
            UInt8((Double(a) + (Double(b) - Double(a)) * min(max(t, 0), 1)).rounded())
        }
        return Color(red: m(red, other.red), green: m(green, other.green), blue: m(blue, other.blue))
    }

    /// Text and axes.
    public static let ink = Color(0x222222)
    /// Secondary text (tick labels, notes).
    public static let muted = Color(0x555555)
    /// Grid lines.
    public static let grid = Color(0xDDDDDD)
    public static let white = Color(0xFFFFFF)
    /// Captions that say "correct": a dark bluish green, readable as small text on white.
    public static let good = Color(0x00734F)
    /// Captions that say "wrong": a dark vermillion.
    public static let bad = Color(0xB83C00)
}

/// The colours figures give their series, in order.
public enum Palette {
    /// Okabe–Ito, reordered so that the first colours are the most distinct on white (its yellow,
    /// weak on white, comes last) and black last of all.
    public static let series: [Color] = [
        Color(0x0072B2),  // blue
        Color(0xE69F00),  // orange
        Color(0x009E73),  // bluish green
        Color(0xD55E00),  // vermillion
        Color(0xCC79A7),  // reddish purple
        Color(0x56B4E9),  // sky blue
        Color(0xF0E442),  // yellow
        Color(0x000000),  // black
    ]

    /// The `index`-th series colour (cycling).
    public static func color(_ index: Int) -> Color { series[index % series.count] }

    /// ColorBrewer "Blues" (9 classes), light to dark.
    public static let blues: [Color] = [
        0xF7FBFF, 0xDEEBF7, 0xC6DBEF, 0x9ECAE1, 0x6BAED6, 0x4292C6, 0x2171B5, 0x08519C, 0x08306B,
    ].map { Color($0) }

    /// The sequential scale at `t` in 0…1 (piecewise linear between the "Blues" stops).
    public static func sequential(_ t: Double) -> Color {
        let x = min(max(t.isFinite ? t : 0, 0), 1) * Double(blues.count - 1)
        let i = min(Int(x), blues.count - 2)
        return blues[i].mixed(with: blues[i + 1], x - Double(i))
    }

    /// Black or white, whichever contrasts more with `background`: at least 4.58 : 1 (WCAG's
    /// contrast ratio) on any background.
    public static func text(on background: Color) -> Color {
        let l = background.luminance
        return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? Color(0x000000) : Color.white
    }
}

/// A line's stroke pattern: training curves dashed, validation solid, by convention here.
public enum Dash: Sendable, Equatable {
    case solid, dashed, dotted

    /// The `stroke-dasharray` for a line `width` wide, or nil for solid.
    func pattern(width: Double) -> String? {
        switch self {
        case .solid: return nil
        case .dashed: return Format.coordinate(4 * max(width, 1.5)) + " " + Format.coordinate(2.5 * max(width, 1.5))
        case .dotted: return "0.1 " + Format.coordinate(2.5 * max(width, 1.5))
        }
    }
}
