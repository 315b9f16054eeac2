// swift-tools-version: 6.0
// The MNIST experiment runner: YAML experiment files in, trained models and reports out.
// One module per stage of the data's path (see README "Architecture").
import PackageDescription

let package = Package(
    name: "MNISTRunner",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "runner", targets: ["runner"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // System libraries: module maps only.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        // The CPU's spin-wait hint (x86 PAUSE, ARM YIELD), header only.
        .systemLibrary(name: "CSpinWait", path: "Sources/CSpinWait"),

        // C kernels compiled for AVX2/FMA (the package itself builds for baseline x86-64), one file
        // per operation, called by Kernels only on CPUs that have the instructions: Winograd
        // F(4×4, 3×3) and F(5×5, 3×3) transforms and their small products, narrow products for few
        // filters, convolution + 2×2 max pooling computed directly, the pooled convolution's sparse
        // gradient; CPU feature detection and the stand-ins off x86-64 (include/ckernels.h).
        .target(name: "CKernels"),
        // The only code with unsafe pointers and BLAS calls.
        // -fno-math-errno: without it Float.squareRoot() compiles to sqrtss plus an errno check
        // and blocks vectorisation of the optimizer loops (measured: Adam was 34% of a step).
        .target(name: "Kernels", dependencies: ["CBLAS", "CSpinWait", "CKernels"],
                swiftSettings: [.unsafeFlags(["-Xcc", "-fno-math-errno"])]),
        // Tensors' shapes, layers, losses, initializers, the sequential model.
        .target(name: "NeuralNetwork", dependencies: ["Kernels"]),
        // Optimizers, random streams, the trainer.
        .target(name: "Training", dependencies: ["NeuralNetwork", "Datasets", "Kernels"]),
        // IDX files: reading, locating, verifying, downloading; preprocessing; digit images (PNG/PGM).
        .target(name: "Datasets", dependencies: [
            "CZlib", "CPNG", "Kernels",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Files other tools read, written by hand: ONNX models, TensorBoard event files (protobuf, TFRecord).
        .target(name: "Interchange", dependencies: ["NeuralNetwork", "Kernels", "Charts"]),
        // Experiment files, registries, orchestration, reports.
        .target(name: "Experiments", dependencies: [
            "NeuralNetwork", "Training", "Datasets", "Kernels", "Interchange", "Charts",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Drawing for reports: SVG charts, digit images as inline PNGs, HTML pages, notebooks.
        .target(name: "Charts", dependencies: ["CPNG"]),
        // The CLI: argument parsing only.
        .executableTarget(name: "runner", dependencies: [
            "Datasets", "Experiments", "Training",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Per-layer timings of a training step (bench/LayerBench/main.swift).
        .executableTarget(name: "layer-bench", dependencies: ["Datasets", "Experiments", "NeuralNetwork", "Kernels"],
                          path: "bench/LayerBench"),

        // What the test targets share: scratch folders, where the package and MNIST are, experiment
        // files, programs run to completion, headless Chromium, nbformat, PNGs read back.
        .target(name: "TestSupport", dependencies: ["CPNG"], path: "Tests/TestSupport"),

        .testTarget(name: "KernelsTests", dependencies: ["Kernels"],
                    // The script that derives and checks the Winograd matrices of Sources/CKernels.
                    exclude: ["winograd5.py"]),
        .testTarget(name: "NeuralNetworkTests", dependencies: ["NeuralNetwork", "Kernels"],
                    // The PyTorch scripts that produced the golden values beside them.
                    exclude: ["Golden/make_batchnorm_golden.py", "Golden/make_conv_golden.py"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NeuralNetwork", "Datasets", "Kernels", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "CPNG", "TestSupport"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "NeuralNetwork", "Training", "Datasets",
                                                             "TestSupport"]),
        .testTarget(name: "ChartsTests", dependencies: ["Charts", "CPNG", "TestSupport"]),
        .testTarget(name: "InterchangeTests", dependencies: ["Interchange", "NeuralNetwork", "Kernels"]),
        .testTarget(name: "RunnerTests", dependencies: ["runner", "Experiments", "Training", "Datasets", "Charts",
                                                         "TestSupport"]),
    ]
)
