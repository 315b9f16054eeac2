// Digit-like images without the MNIST files: a 5×7 bitmap font thickened and softened.
import Charts
import TestSupport

extension Samples {
    /// A digit drawn from a 5×7 bitmap font, thickened and softened into a 28×28 MNIST-like image
    /// (white on black); `variant` shifts and slants it a little.
    static func digit(_ d: Int, variant: Int = 0) -> [UInt8] {
        let font: [[String]] = [
            ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
            ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
            ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
            ["11111", "00010", "00100", "00010", "00001", "10001", "01110"],
            ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
            ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
            ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
            ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
            ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
            ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
        ]
        var field = [Double](repeating: 0, count: 28 * 28)
        let slant = Double(variant % 3 - 1) * 0.12, dx = Double(variant % 2), dy = Double(variant % 3 == 2 ? 1 : 0)
        for (r, row) in font[d % 10].enumerated() {
            for (c, bit) in row.enumerated() where bit == "1" {
                let cx = 8 + Double(c) * 3 + dx + slant * Double(3 - r) * 3, cy = 4 + Double(r) * 3 + dy
                for y in 0..<28 {
                    for x in 0..<28 {
                        let dist = ((Double(x) + 0.5 - cx - 1.5) * (Double(x) + 0.5 - cx - 1.5) + (Double(y) + 0.5 - cy - 1.5) * (Double(y) + 0.5 - cy - 1.5)).squareRoot()
                        field[y * 28 + x] = max(field[y * 28 + x], min(1, max(0, 2.6 - dist)))
                    }
                }
            }
        }
        return field.map { UInt8(($0 * 255).rounded()) }
    }

    static func trainingDigits() -> ImageGrid {
        var items: [ImageGrid.Item] = []
        for d in 0..<10 { for v in 0..<10 { items.append(.init(pixels: digit(d, variant: v), width: 28, height: 28)) } }
        return ImageGrid(title: "Training digits, 10 per class", items: items, columns: 10, scale: 1.6,
                         rowLabels: classes)
    }

    static func predictions() -> ImageGrid {
        let items = (0..<12).map { i -> ImageGrid.Item in
            let actual = (i * 7 + 3) % 10, predicted = i % 5 == 4 ? (actual + 3) % 10 : actual
            let p1 = predicted == actual ? 0.97 - 0.01 * Double(i % 4) : 0.61
            return .prediction(pixels: digit(actual, variant: i), predicted: "\(predicted)", actual: "\(actual)",
                               probabilities: [("\(predicted)", p1), ("\((predicted + 1) % 10)", (1 - p1) * 0.7),
                                               ("\((predicted + 5) % 10)", (1 - p1) * 0.2)])
        }
        return ImageGrid(title: "First test digits", items: items, columns: 6)
    }
}
