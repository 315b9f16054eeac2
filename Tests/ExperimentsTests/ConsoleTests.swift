// The terminal's progress line stays narrower than the terminal, so the in-place redraw works:
// shortened step by step (speed, bar, time per step, metric names), cut only as a last resort.
import Experiments
import Foundation
import Testing
import Training

@Suite("Progress lines on a terminal")
struct ConsoleTests {
    final class Captured: @unchecked Sendable {
        var text = ""
    }

    /// What the console writes for the end of an epoch with validation and a scheduled rate, at `columns`.
    func epochLine(columns: Int?) throws -> String {
        let captured = Captured()
        let console = Console(mode: .terminal, write: { captured.text += $0 }, columns: { columns })
        let metrics = try JSONDecoder().decode(RunningMetrics.self, from: Data(#"{"samples": 54000, "loss_sum": 14570.18, "correct": 49897}"#.utf8))
        let validation = try JSONDecoder().decode(Evaluation.self, from: Data(
            #"{"loss": 0.1342, "accuracy": 0.9608, "samples": 6000, "confusion": []}"#.utf8))
        console.epochDone(BatchProgress(epoch: 0, batch: 1688, batches: 1688, metrics: metrics, seconds: 4.86),
                          epochs: 5, validation: validation, learningRate: 0.001, imagesPerSecond: 11_113)
        #expect(captured.text.hasPrefix("\r") && captured.text.hasSuffix("\u{1B}[K\n"))
        return String(captured.text.dropFirst().dropLast(4))
    }

    @Test("the full Keras line when it fits; shorter forms below the width; never as wide as the terminal")
    func fits() throws {
        let full = try epochLine(columns: nil)
        #expect(full == "1688/1688 ━━━━━━━━━━━━━━━━━━━━ 4.86s 3ms/step - accuracy: 0.9240 - loss: 0.2698 - "
                + "val_accuracy: 0.9608 - val_loss: 0.1342 - learning_rate: 1.0000e-03 - 11,113 images/s")
        #expect(try epochLine(columns: 200) == full)
        for columns in [20, 40, 60, 80, 100, 120, 140, 160] {
            let line = try epochLine(columns: columns)
            #expect(line.count < columns, "\(columns): \(line)")
        }
        // 120 columns: every figure still there, in fewer characters.
        let wide = try epochLine(columns: 120)
        #expect(wide.hasPrefix("1688/1688 ") && wide.contains("0.9240") && wide.contains("0.2698") && wide.contains("0.9608")
                && wide.contains("0.1342") && wide.contains("1.0000e-03") && !wide.contains("images/s"), "\(wide)")
        #expect(try epochLine(columns: 100) == "1688/1688 4.86s - acc: 0.9240 - loss: 0.2698 - val_acc: 0.9608 - "
                + "val_loss: 0.1342 - lr: 1.0000e-03")
        #expect(try epochLine(columns: 80).hasSuffix("…") && epochLine(columns: 80).count == 79)
    }
}
