// Learning-rate schedules: each formula at chosen steps against hand-computed values, warmup in
// front of each, the registry's Keras names and defaults, statelessness (what makes a resumed run
// continue exactly), and the trainer using the scheduled rate.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

/// |a − b| ≤ 1e-6·|b| (+1e-12): Float rates against Double hand computations.
func close(_ a: Float, _ b: Double) -> Bool { abs(Double(a) - b) <= 1e-6 * abs(b) + 1e-12 }

func schedule(_ type: String, _ json: String = "{}") throws -> any LearningRateSchedule {
    try Schedules.registry.lookup(type)(JSONDecoder().decoder(for: json))
}

@Suite("Learning-rate schedules")
struct ScheduleTests {
    @Test("constant: the base rate at every step")
    func constant() throws {
        let lr = LearningRate(base: 0.01, schedule: try schedule("constant"), stepsPerEpoch: 10)
        for t in [0, 1, 9, 10, 12_345] { #expect(lr.rate(t) == 0.01) }
        #expect(!lr.isScheduled)
    }

    @Test("step: base · factor^⌊epoch / step_size⌋ (PyTorch StepLR)")
    func step() throws {
        // base 0.1, halved every 2 epochs of 10 steps.
        let lr = LearningRate(base: 0.1, schedule: try schedule("step", #"{"step_size": 2, "factor": 0.5}"#),
                              stepsPerEpoch: 10)
        let expected: [(Int, Double)] = [(0, 0.1), (19, 0.1), (20, 0.05), (39, 0.05), (45, 0.025), (60, 0.0125)]
        for (t, rate) in expected { #expect(close(lr.rate(t), rate), "step \(t): \(lr.rate(t))") }
        let defaults = try #require(try schedule("step", #"{"step_size": 3}"#) as? StepDecay)
        #expect(defaults.config.factor == 0.1)
    }

    @Test("exponential: base · rate^(t / decay_steps), floored with staircase (Keras ExponentialDecay)")
    func exponential() throws {
        let smooth = LearningRate(base: 0.1, schedule: try schedule(
            "exponential", #"{"decay_steps": 10, "decay_rate": 0.5}"#), stepsPerEpoch: 7)
        // 0.1·0.5^0.5 = 0.0707106781, 0.1·0.5^2.5 = 0.0176776695
        for (t, rate) in [(0, 0.1), (5, 0.0707106781), (10, 0.05), (25, 0.0176776695)] {
            #expect(close(smooth.rate(t), rate), "step \(t): \(smooth.rate(t))")
        }
        let stairs = LearningRate(base: 0.1, schedule: try schedule(
            "exponential", #"{"decay_steps": 10, "decay_rate": 0.5, "staircase": true}"#), stepsPerEpoch: 7)
        for (t, rate) in [(0, 0.1), (9, 0.1), (10, 0.05), (25, 0.025)] {
            #expect(close(stairs.rate(t), rate), "step \(t): \(stairs.rate(t))")
        }
    }

    @Test("cosine: base · ((1 − α)·½(1 + cos(π·min(t, T)/T)) + α) (Keras CosineDecay)")
    func cosine() throws {
        let lr = LearningRate(base: 0.1, schedule: try schedule("cosine", #"{"decay_steps": 100, "alpha": 0.1}"#),
                              stepsPerEpoch: 10)
        // t = 25: ½(1 + cos π/4) = 0.8535533906; 0.9·that + 0.1 = 0.8681980515
        for (t, rate) in [(0, 0.1), (25, 0.08681980515), (50, 0.055), (100, 0.01), (150, 0.01)] {
            #expect(close(lr.rate(t), rate), "step \(t): \(lr.rate(t))")
        }
        let noAlpha = try #require(try schedule("cosine", #"{"decay_steps": 5}"#) as? CosineDecay)
        #expect(noAlpha.config.alpha == 0)
    }

    @Test("warmup: base · t / W over the first W steps, then the schedule started at W")
    func warmup() throws {
        let plain = LearningRate(base: 0.1, schedule: try schedule("warmup"), warmup: Warmup(steps: 4),
                                 stepsPerEpoch: 10)
        for (t, rate) in [(0, 0.0), (1, 0.025), (2, 0.05), (3, 0.075), (4, 0.1), (100, 0.1)] {
            #expect(close(plain.rate(t), rate), "step \(t): \(plain.rate(t))")
        }
        #expect(plain.isScheduled)

        // One warmup epoch of 10 steps before a cosine decay over 100 steps.
        let cosine = LearningRate(base: 0.1, schedule: try schedule("cosine", #"{"decay_steps": 100}"#),
                                  warmup: Warmup(epochs: 1), stepsPerEpoch: 10)
        for (t, rate) in [(5, 0.05), (10, 0.1), (60, 0.05), (110, 0.0), (500, 0.0)] {
            #expect(close(cosine.rate(t), rate), "step \(t): \(cosine.rate(t))")
        }

        // 5 warmup steps before halving every epoch: the epochs of the step schedule start at step 5.
        let step = LearningRate(base: 0.1, schedule: try schedule("step", #"{"step_size": 1, "factor": 0.5}"#),
                                warmup: Warmup(steps: 5), stepsPerEpoch: 10)
        for (t, rate) in [(4, 0.08), (5, 0.1), (14, 0.1), (15, 0.05), (25, 0.025)] {
            #expect(close(step.rate(t), rate), "step \(t): \(step.rate(t))")
        }

        // Exponential with warmup in steps, read from the experiment-file keys.
        let warm = try JSONDecoder().decode(WarmupBox.self, from: Data(#"{"warmup_epochs": 2}"#.utf8)).warmup
        #expect(warm.steps(stepsPerEpoch: 7) == 14)
    }

    @Test("no hidden state: any order of queries gives the same rates (a resumed run continues exactly)",
          arguments: ["constant", "step", "exponential", "cosine", "warmup"])
    func stateless(_ type: String) throws {
        let parameters = [
            "step": #"{"step_size": 2, "factor": 0.3}"#,
            "exponential": #"{"decay_steps": 7, "decay_rate": 0.9, "staircase": true}"#,
            "cosine": #"{"decay_steps": 250, "alpha": 0.05}"#,
        ]
        let lr = LearningRate(base: 0.02, schedule: try schedule(type, parameters[type] ?? "{}"),
                              warmup: Warmup(steps: 13), stepsPerEpoch: 11)
        let forward = (0..<400).map { lr.rate($0) }
        let backward = (0..<400).reversed().map { lr.rate($0) }.reversed()
        #expect(forward == Array(backward))
        // A copy made "mid-run" and a fresh value agree from the resume point on.
        let resumed = LearningRate(base: lr.base, schedule: lr.schedule, warmup: lr.warmup, stepsPerEpoch: 11)
        #expect((200..<400).map { resumed.rate($0) } == Array(forward[200...]))
        #expect(Set(forward).count > 1)
    }

    @Test("an unknown schedule names the nearest one")
    func unknown() {
        let error = #expect(throws: ConfigError.self) { try Schedules.registry.lookup("cosin") }
        #expect(error?.message == "unknown learning-rate schedule 'cosin'")
        #expect(error?.hint?.contains("did you mean 'cosine'") == true)
        #expect(Schedules.registry.names == ["constant", "cosine", "exponential", "inv", "multistep", "one_cycle",
                                             "piecewise_constant", "poly", "step", "warmup"])
    }

    @Test("the trainer steps at the scheduled rate: a warmup's first step (rate 0) leaves SGD's weights alone")
    func trainerUsesSchedule() throws {
        var sgd = SGD.Config()
        sgd.learningRate = 0.1
        let trainer = try makeTrainer(seed: 9, threads: 1, dropout: false, optimizer: SGD(sgd),
                                      learningRate: LearningRate(base: 0.1, schedule: ConstantRate(name: "warmup"),
                                                                 warmup: Warmup(steps: 2), stepsPerEpoch: 1))
        let data = Subset(quadrants(count: 16, seed: 4))
        let initial = trainer.model.parameters.array
        #expect(trainer.nextLearningRate == 0)
        _ = trainer.trainEpoch(data, epoch: 0, batchSize: 16, shuffle: false)   // one step at rate 0
        #expect(trainer.model.parameters.array == initial)
        #expect(trainer.nextLearningRate == 0.05)
        _ = trainer.trainEpoch(data, epoch: 1, batchSize: 16, shuffle: false)   // one step at rate 0.05
        #expect(trainer.model.parameters.array != initial)

        // fit reports each epoch's first rate.
        let fitted = try makeTrainer(seed: 9, threads: 1, dropout: false, optimizer: SGD(sgd),
                                     learningRate: LearningRate(base: 0.1, schedule: try schedule(
                                         "step", #"{"step_size": 1, "factor": 0.5}"#), stepsPerEpoch: 1))
        let history = fitted.fit(data, validation: nil, FitOptions(epochs: 3, batchSize: 16, shuffle: false))
        #expect(history.epochs.map(\.learningRate) == [0.1, 0.05, 0.025])
    }
}

private struct WarmupBox: Decodable {
    let warmup: Warmup
    init(from decoder: Decoder) throws { warmup = try Warmup(from: decoder) }
}
