// Small grayscale pictures drawn pixel by pixel, for TensorBoard's Images tab: the confusion
// matrix as a shaded table with its counts (a 3×5 pixel digit font), and digits enlarged.
import Charts

/// A grayscale picture: `width × height` bytes, row-major, 0 black … 255 white.
public struct GrayPicture: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, fill: UInt8 = 255) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: fill, count: width * height)
    }

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public var png: [UInt8] { PNG.gray(pixels, width: width, height: height) }

    mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ value: UInt8) {
        for row in max(0, y)..<min(height, y + h) {
            for column in max(0, x)..<min(width, x + w) { pixels[row * width + column] = value }
        }
    }

    /// 3×5 digits, rows top to bottom, bit 2 the left column.
    private static let font: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// Width in pixels of `number` written at `scale`.
    static func textWidth(_ number: Int, scale: Int) -> Int { String(number).count * 4 * scale - scale }

    /// Writes `number` with its top left corner at (x, y), each font pixel `scale`×`scale`.
    mutating func draw(_ number: Int, x: Int, y: Int, scale: Int, _ value: UInt8) {
        for (i, character) in String(number).enumerated() {
            let glyph = Self.font[Int(String(character))!]
            for (row, bits) in glyph.enumerated() {
                for column in 0..<3 where bits & (4 >> column) != 0 {
                    fill(x: x + (i * 4 + column) * scale, y: y + row * scale, width: scale, height: scale, value)
                }
            }
        }
    }

    /// The picture with every pixel repeated `factor` times across and down.
    public func enlarged(_ factor: Int) -> GrayPicture {
        var out = GrayPicture(width: width * factor, height: height * factor)
        for y in 0..<out.height {
            for x in 0..<out.width { out.pixels[y * out.width + x] = pixels[(y / factor) * width + x / factor] }
        }
        return out
    }

    /// confusion[true][predicted] as a table: the class indices down the left and across the top,
    /// each cell shaded by its share of its row (darker: more) and showing its count (none for 0).
    public static func confusionMatrix(_ confusion: [[Int]]) -> GrayPicture {
        let classes = confusion.count, scale = 2
        let widest = textWidth(max(confusion.flatMap { $0 }.max() ?? 0, 10), scale: scale)
        let cellWidth = widest + 8, cellHeight = 5 * scale + 8
        let margin = textWidth(max(classes - 1, 0), scale: scale) + 8
        var picture = GrayPicture(width: margin + classes * cellWidth, height: cellHeight + classes * cellHeight)
        for c in 0..<classes {
            let x = margin + c * cellWidth + (cellWidth - textWidth(c, scale: scale)) / 2
            picture.draw(c, x: x, y: 4, scale: scale, 0)
            picture.draw(c, x: (margin - textWidth(c, scale: scale)) / 2, y: cellHeight + c * cellHeight + 4, scale: scale, 0)
        }
        for (t, row) in confusion.enumerated() {
            let total = max(1, row.reduce(0, +))
            for (p, count) in row.enumerated() {
                let x = margin + p * cellWidth, y = cellHeight + t * cellHeight
                let shade = UInt8(235 - 215 * count / total)
                picture.fill(x: x + 1, y: y + 1, width: cellWidth - 1, height: cellHeight - 1, shade)
                if count > 0 {
                    picture.draw(count, x: x + (cellWidth - textWidth(count, scale: scale)) / 2, y: y + 4, scale: scale,
                                 shade < 128 ? 255 : 0)
                }
            }
        }
        return picture
    }
}
