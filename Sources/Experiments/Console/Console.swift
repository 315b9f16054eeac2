// What a run prints: Keras-style progress bars on a terminal, one plain line per epoch otherwise
// (CI logs, pipes), nothing but errors and the final result with --quiet.
import Foundation
import Kernels
import NeuralNetwork
import Training

public final class Console: @unchecked Sendable {
    public enum Mode: Sendable { case terminal, plain, quiet }
    public let mode: Mode
    private let write: @Sendable (String) -> Void
    private var lastDraw = 0.0

    /// `mode` nil picks terminal or plain from whether standard output is a terminal.
    public init(mode: Mode? = nil, write: (@Sendable (String) -> Void)? = nil) {
        self.mode = mode ?? (isatty(STDOUT_FILENO) == 1 ? .terminal : .plain)
        self.write = write ?? { text in
            FileHandle.standardOutput.write(text.data(using: .utf8)!)
        }
    }

    /// A line of normal output (suppressed with --quiet).
    public func line(_ text: String = "") {
        if mode != .quiet { write(text + "\n") }
    }

    /// A line printed even with --quiet (final results).
    public func result(_ text: String) { write(text + "\n") }

    /// Redraws the progress bar of the epoch in place (terminal only, at most 10 times a second).
    public func progress(_ p: BatchProgress) {
        guard mode == .terminal else { return }
        let now = monotonicSeconds()
        if p.batch < p.batches && now - lastDraw < 0.1 { return }
        lastDraw = now
        write("\r" + Self.bar(p) + "\u{1B}[K")
    }

    /// Ends an epoch: the bar's final state plus validation metrics (terminal), or one plain line.
    /// `learningRate` is shown when the rate follows a schedule (as Keras shows it then).
    public func epochDone(_ p: BatchProgress, epochs: Int, validation: Evaluation?, learningRate: Float? = nil,
                          imagesPerSecond: Double) {
        let tail = Self.validationMetrics(validation)
            + (learningRate.map { " - learning_rate: \(Self.kerasNumber(Double("\($0)") ?? Double($0)))" } ?? "")
            + " - \(Format.grouped(Int(imagesPerSecond.rounded()))) images/s"
        switch mode {
        case .terminal:
            write("\r" + Self.bar(p) + tail + "\u{1B}[K\n")
        case .plain:
            // p.batch: the steps the epoch trained (fewer than p.batches when max_steps ended it).
            write("Epoch \(p.epoch + 1)/\(epochs) - \(p.batch) steps - \(Self.seconds(p.seconds)) - "
                  + Self.perStep(p.seconds / Double(max(1, p.batch))) + Self.metrics(p.metrics) + tail + "\n")
        case .quiet:
            break
        }
    }

    /// "1688/1688 ━━━━━━━━━━━━━━━━━━━━ 0.4s 240us/step - accuracy: 0.9012 - loss: 0.3456"
    static func bar(_ p: BatchProgress) -> String {
        let width = 20
        let filled = p.batches == 0 ? width : p.batch * width / p.batches
        let count = String(p.batches)
        let done = String(repeating: " ", count: count.count - String(p.batch).count) + String(p.batch)
        return "\(done)/\(count) " + String(repeating: "━", count: filled)
            + String(repeating: "─", count: width - filled)
            + " \(seconds(p.seconds)) \(perStep(p.seconds / Double(max(1, p.batch))))"
            + metrics(p.metrics)
    }

    static func metrics(_ m: RunningMetrics) -> String {
        " - accuracy: \(Format.fixed(m.accuracy, 4)) - loss: \(Format.fixed(m.loss, 4))"
    }

    static func validationMetrics(_ v: Evaluation?) -> String {
        v.map { " - val_accuracy: \(Format.fixed($0.accuracy, 4)) - val_loss: \(Format.fixed($0.loss, 4))" } ?? ""
    }

    static func seconds(_ s: Double) -> String { s < 10 ? "\(Format.fixed(s, 2))s" : "\(Int(s.rounded()))s" }

    static func perStep(_ s: Double) -> String {
        s < 1e-3 ? "\(Int((s * 1e6).rounded()))us/step" : s < 1 ? "\(Int((s * 1e3).rounded()))ms/step"
            : "\(Format.fixed(s, 2))s/step"
    }

    /// A value the way Keras's progress bar prints it: 4 decimals, or 4 significant digits in
    /// exponent form when |x| ≤ 1e-3 ("1.0000e-03").
    static func kerasNumber(_ x: Double) -> String {
        abs(x) > 1e-3 ? Format.fixed(x, 4) : Format.exponential(x, 4)
    }

}
