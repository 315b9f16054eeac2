// Keras's progress line, made to fit the terminal: a line that wraps breaks the in-place redraw
// (the carriage return goes back to the start of the last screen row only), so the line is
// shortened until it is narrower than the terminal — first the images/s, then the bar, then
// the time per step, then the metric names — and only then cut.
import Foundation
import Kernels
import NeuralNetwork
import Training

struct ProgressLine {
    let progress: BatchProgress
    /// The end of an epoch's line: validation metrics, the scheduled rate, the speed.
    var validation: Evaluation? = nil
    var learningRate: Float? = nil
    var imagesPerSecond: Double? = nil

    private struct Form {
        var speed = true
        var barCells = 20
        var perStep = true
        var shortNames = false
    }

    /// The longest form that is narrower than `columns` (nil: the full line).
    func text(columns: Int?) -> String {
        let forms = [Form(), Form(speed: false), Form(speed: false, barCells: 10), Form(speed: false, barCells: 0),
                     Form(speed: false, barCells: 0, perStep: false),
                     Form(speed: false, barCells: 0, perStep: false, shortNames: true)]
        guard let columns else { return render(forms[0]) }
        let limit = max(columns - 1, 1)
        for form in forms {
            let line = render(form)
            if line.count <= limit { return line }
        }
        let line = render(forms[forms.count - 1])
        return String(line.prefix(max(limit - 1, 0))) + "…"
    }

    /// "1688/1688 ━━━━━━━━━━━━━━━━━━━━ 4s 2ms/step - accuracy: 0.9240 - loss: 0.2698 - val_…"
    private func render(_ form: Form) -> String {
        let p = progress
        let count = String(p.batches)
        var line = String(repeating: " ", count: max(0, count.count - String(p.batch).count)) + "\(p.batch)/\(count)"
        if form.barCells > 0 {
            let filled = p.batches == 0 ? form.barCells : p.batch * form.barCells / p.batches
            line += " " + String(repeating: "━", count: filled) + String(repeating: "─", count: form.barCells - filled)
        }
        line += " " + Console.seconds(p.seconds)
        if form.perStep { line += " " + Console.perStep(p.seconds / Double(max(1, p.batch))) }
        func metric(_ name: String, _ short: String, _ value: String) {
            line += " - \(form.shortNames ? short : name): \(value)"
        }
        metric("accuracy", "acc", Format.fixed(p.metrics.accuracy, 4))
        metric("loss", "loss", Format.fixed(p.metrics.loss, 4))
        if let v = validation {
            metric("val_accuracy", "val_acc", Format.fixed(v.accuracy, 4))
            metric("val_loss", "val_loss", Format.fixed(v.loss, 4))
        }
        if let rate = learningRate { metric("learning_rate", "lr", Console.kerasNumber(Double("\(rate)") ?? Double(rate))) }
        if form.speed, let imagesPerSecond {
            line += " - \(Format.grouped(Int(imagesPerSecond.rounded()))) images/s"
        }
        return line
    }
}

/// The terminal's width: $COLUMNS when set (as swift-argument-parser reads it), else what the
/// terminal on standard output reports (TIOCGWINSZ), else nil.
func terminalColumns(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
    if let columns = environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 { return columns }
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
}
