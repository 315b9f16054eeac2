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
    /// The terminal's width now (asked at every redraw: windows are resized), nil if unknown.
    private let columns: @Sendable () -> Int?
    private var lastDraw = 0.0

    /// `mode` nil picks terminal or plain from whether standard output is a terminal; `columns`
    /// gives the width progress lines must stay within (default: $COLUMNS, else the terminal's).
    public init(mode: Mode? = nil, write: (@Sendable (String) -> Void)? = nil,
                columns: (@Sendable () -> Int?)? = nil) {
        self.mode = mode ?? (isatty(STDOUT_FILENO) == 1 ? .terminal : .plain)
        self.columns = columns ?? { terminalColumns() }
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
        write("\r" + ProgressLine(progress: p).text(columns: columns()) + "\u{1B}[K")
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
            let line = ProgressLine(progress: p, validation: validation, learningRate: learningRate,
                                    imagesPerSecond: imagesPerSecond)
            write("\r" + line.text(columns: columns()) + "\u{1B}[K\n")
        case .plain:
            // p.batch: the steps the epoch trained (fewer than p.batches when max_steps ended it).
            write("Epoch \(p.epoch + 1)/\(epochs) - \(p.batch) steps - \(Self.seconds(p.seconds)) - "
                  + Self.perStep(p.seconds / Double(max(1, p.batch))) + Self.metrics(p.metrics) + tail + "\n")
        case .quiet:
            break
        }
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
