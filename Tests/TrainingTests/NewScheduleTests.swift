// The schedules for the published reproductions: Caffe's inv, Keras's PolynomialDecay and
// PiecewiseConstantDecay, PyTorch's MultiStepLR and OneCycleLR (with its momentum cycle) — each
// rate at chosen steps against hand-computed values, statelessness, and what the trainer hands
// the optimizer step by step.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

/// An optimizer that only records what each step asked of it.
final class RecordingOptimizer: Optimizer {
    let name = "recording"
    var configuration: any Encodable & Sendable { "recording" }
    let learningRate: Float = 0.5
    let plan = UpdatePlan()
    let momentumKey: String? = "momentum"
    var rates: [Float] = [], momenta: [Float?] = []
    func allocate(parameterCount count: Int) {}
    func beginStep(_ step: Int, momentum: Float?) { momenta.append(momentum) }
    func apply(_ range: Range<Int>, parameters: FloatView, gradients: FloatView, step: Int, learningRate: Float,
               momentum: Float?, pool: ThreadPool?) { rates.append(learningRate) }
    var state: [(name: String, values: FloatStorage)] { [] }
    let statePerParameter = 0
    /// It records each call, so it is no element-by-element rule: the trainer steps it after the
    /// backward pass, one `apply` per step.
    let stepsDuringBackward = false
}

/// PyTorch's _annealing_cos.
func annealCos(_ start: Double, _ end: Double, _ pct: Double) -> Double { end + (start - end) / 2 * (cos(Double.pi * pct) + 1) }

@Suite("Schedules: inv, poly, multistep, piecewise_constant, one_cycle")
struct NewScheduleTests {
    func expectRates(_ lr: LearningRate, _ expected: [(Int, Double)], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for (t, rate) in expected {
            #expect(close(lr.rate(t), rate), "step \(t): \(lr.rate(t)), expected \(rate)", sourceLocation: sourceLocation)
        }
    }

    @Test("inv: base · (1 + γ·t)^(−p) (Caffe's lenet_solver: γ 1e-4, p 0.75)")
    func inv() throws {
        let lr = LearningRate(base: 0.01, schedule: try schedule("inv", #"{"gamma": 0.0001, "power": 0.75}"#),
                              stepsPerEpoch: 938)
        // 2^−0.75 = 0.5946035575, 1.1^−0.75 = 0.9310124446
        expectRates(lr, [(0, 0.01), (1000, 0.009310124446), (10_000, 0.005946035575)])
    }

    @Test("poly: (base − end)·(1 − min(t, T)/T)^p + end, and with cycle (Keras PolynomialDecay)")
    func poly() throws {
        let linear = LearningRate(base: 0.1, schedule: try schedule("poly", #"{"decay_steps": 100}"#), stepsPerEpoch: 7)
        expectRates(linear, [(0, 0.1), (50, 0.05005), (100, 0.0001), (150, 0.0001)])
        // Caffe's poly: end 0, power 2.
        let caffe = LearningRate(base: 0.1, schedule: try schedule(
            "poly", #"{"decay_steps": 100, "end_learning_rate": 0, "power": 2}"#), stepsPerEpoch: 7)
        expectRates(caffe, [(0, 0.1), (50, 0.025), (90, 0.001), (100, 0)])
        // cycle: T becomes the first multiple of 100 at or above t.
        let cycled = LearningRate(base: 0.1, schedule: try schedule("poly", #"{"decay_steps": 100, "cycle": true}"#),
                                  stepsPerEpoch: 7)
        expectRates(cycled, [(0, 0.1), (100, 0.0001), (101, 0.0495505), (150, 0.025075), (200, 0.0001)])
    }

    @Test("multistep: base · factor^(milestones ≤ epoch), or ≤ step (PyTorch MultiStepLR, Caffe multistep)")
    func multistep() throws {
        let epochs = LearningRate(base: 0.1, schedule: try schedule(
            "multistep", #"{"milestones": [2, 4], "factor": 0.5}"#), stepsPerEpoch: 10)
        expectRates(epochs, [(0, 0.1), (19, 0.1), (20, 0.05), (39, 0.05), (40, 0.025), (100, 0.025)])
        let steps = LearningRate(base: 0.1, schedule: try schedule("multistep", #"{"milestone_steps": [5, 7]}"#),
                                 stepsPerEpoch: 10)
        expectRates(steps, [(4, 0.1), (5, 0.01), (6, 0.01), (7, 0.001)])
    }

    @Test("piecewise_constant: values[i] while t ≤ boundaries[i] (Keras), the base rate unused")
    func piecewise() throws {
        let lr = LearningRate(base: 0.01, schedule: try schedule(
            "piecewise_constant", #"{"boundaries": [10, 20], "values": [1.0, 0.5, 0.1]}"#), stepsPerEpoch: 3)
        expectRates(lr, [(0, 1), (10, 1), (11, 0.5), (20, 0.5), (21, 0.1), (1000, 0.1)])
    }

    @Test("one_cycle: two phases, cos — rate and momentum at chosen steps (PyTorch OneCycleLR)")
    func oneCycle() throws {
        let lr = LearningRate(base: 1, schedule: try schedule("one_cycle", #"{"total_steps": 100}"#), stepsPerEpoch: 10)
        // initial 1/25 = 0.04, min 0.04/1e4; phase 1 ends at 0.3·100 − 1 = 29, phase 2 at 99.
        expectRates(lr, [(0, 0.04), (14, annealCos(0.04, 1, 14 / 29)), (29, 1), (64, 0.5 + 2e-6), (99, 4e-6),
                         (150, 4e-6)])
        for (t, m) in [(0, 0.95), (14, annealCos(0.95, 0.85, 14 / 29)), (29, 0.85), (64, 0.9), (99, 0.95)] {
            #expect(close(try #require(lr.momentum(t)), m), "momentum at \(t): \(String(describing: lr.momentum(t)))")
        }
        // max_learning_rate overrides the optimizer's rate; without cycle_momentum no momentum is set.
        let peak = LearningRate(base: 1, schedule: try schedule(
            "one_cycle", #"{"total_steps": 100, "max_learning_rate": 0.1, "cycle_momentum": false}"#), stepsPerEpoch: 10)
        expectRates(peak, [(0, 0.004), (29, 0.1)])
        #expect(peak.momentum(0) == nil)
    }

    @Test("one_cycle: three phases, linear; the length from the run's epochs when total_steps is null")
    func oneCycleVariants() throws {
        let three = LearningRate(base: 1, schedule: try schedule(
            "one_cycle", #"{"total_steps": 100, "three_phase": true, "anneal_strategy": "linear"}"#), stepsPerEpoch: 10)
        // Phases end at 29, 2·0.3·100 − 2 = 58 and 99.
        expectRates(three, [(0, 0.04), (10, 0.04 + 0.96 * 10 / 29), (29, 1), (58, 0.04), (99, 4e-6)])
        for (t, m) in [(0, 0.95), (29, 0.85), (58, 0.95), (80, 0.95), (99, 0.95)] {
            #expect(close(try #require(three.momentum(t)), m), "momentum at \(t)")
        }
        // 5 epochs of 10 steps: 50 steps, phase 1 ends at 14.
        let fromEpochs = LearningRate(base: 0.1, schedule: try schedule("one_cycle"), stepsPerEpoch: 10, epochs: 5)
        expectRates(fromEpochs, [(0, 0.004), (14, 0.1), (49, 0.1 / 25 / 1e4)])
        #expect(fromEpochs.length.totalSteps == 50)
        let cfg = try #require(try schedule("one_cycle") as? OneCycle).config
        #expect(cfg.pctStart == 0.3 && cfg.annealStrategy == .cos && cfg.divFactor == 25 && cfg.finalDivFactor == 1e4
                && !cfg.threePhase && cfg.cycleMomentum && cfg.baseMomentum == 0.85 && cfg.maxMomentum == 0.95
                && cfg.totalSteps == nil && cfg.maxLearningRate == nil)
    }

    @Test("one_cycle needs a momentum to cycle (PyTorch refuses too) unless cycle_momentum is false")
    func oneCycleConflicts() throws {
        let cycle = try schedule("one_cycle")
        #expect(cycle.conflict(with: try optimizer("adadelta", "{}"))?.message.contains("adadelta has none") == true)
        #expect(cycle.conflict(with: try optimizer("sgd", "{}"))?.message.contains("sgd with momentum 0 has none") == true)
        #expect(cycle.conflict(with: try optimizer("sgd", #"{"momentum": 0.9}"#)) == nil)
        #expect(cycle.conflict(with: try optimizer("nadam", "{}")) == nil)
        #expect(try schedule("one_cycle", #"{"cycle_momentum": false}"#).conflict(with: try optimizer("adagrad", "{}")) == nil)
        #expect(try schedule("inv", #"{"gamma": 1, "power": 1}"#).conflict(with: try optimizer("adagrad", "{}")) == nil)
    }

    @Test("no hidden state: any order of queries gives the same rates and momenta",
          arguments: ["inv", "poly", "multistep", "piecewise_constant", "one_cycle"])
    func stateless(_ type: String) throws {
        let parameters = [
            "inv": #"{"gamma": 0.01, "power": 0.75}"#, "poly": #"{"decay_steps": 300, "power": 2, "cycle": true}"#,
            "multistep": #"{"milestones": [3, 7]}"#,
            "piecewise_constant": #"{"boundaries": [50, 150], "values": [0.1, 0.02, 0.004]}"#,
            "one_cycle": #"{"three_phase": true}"#,
        ]
        let warmup = type == "one_cycle" ? Warmup() : Warmup(steps: 13)
        let lr = LearningRate(base: 0.02, schedule: try schedule(type, parameters[type]!), warmup: warmup,
                              stepsPerEpoch: 11, epochs: 30)
        let forward = (0..<400).map { (lr.rate($0), lr.momentum($0)) }
        let backward = Array((0..<400).reversed().map { (lr.rate($0), lr.momentum($0)) }.reversed())
        #expect(forward.map(\.0) == backward.map(\.0) && forward.map(\.1) == backward.map(\.1))
        #expect(Set(forward.map(\.0)).count > 1)
    }

    @Test("one_cycle refuses a warmup of its own")
    func noWarmup() throws {
        let error = #expect(throws: ConfigError.self) { try schedule("one_cycle", #"{"warmup_epochs": 1}"#) }
        #expect(error?.message.contains("one_cycle warms up by itself") == true)
        #expect(error?.codingPath == ["warmup_epochs"])
    }

    @Test("the trainer hands the optimizer each step's scheduled rate and momentum")
    func trainerHandsMomentum() throws {
        let recorder = RecordingOptimizer()
        let lr = LearningRate(base: 0.5, schedule: try schedule("one_cycle"), stepsPerEpoch: 10, epochs: 2)
        let trainer = try makeTrainer(seed: 2, threads: 1, dropout: false, optimizer: recorder, learningRate: lr)
        _ = trainer.fit(Subset(quadrants(count: 160, seed: 2)), validation: nil, FitOptions(epochs: 2, batchSize: 16))
        #expect(recorder.rates == (0..<20).map { lr.rate($0) })
        #expect(recorder.momenta == (0..<20).map { lr.momentum($0) })
        #expect(close(try #require(recorder.momenta[0]), 0.95) && close(recorder.rates[0], 0.02))
    }
}
