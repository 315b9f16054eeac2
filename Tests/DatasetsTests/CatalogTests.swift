// The catalog's names and suggestions, the environment-derived settings, and the SHA-256 helper.
import Datasets
import Testing

@Suite struct CatalogTests {
    @Test func knownDatasets() throws {
        #expect(Catalog.knownNames == ["mnist", "fashion-mnist"])
        let fashion = try Catalog.entry(named: "fashion-mnist")
        #expect(fashion.classNames.count == 10)
        #expect(fashion.classNames.first == "T-shirt/top" && fashion.classNames.last == "Ankle boot")
        #expect(try Catalog.entry(named: "mnist").classNames == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
        #expect(Catalog.mnist.files.map(\.name) == ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
        #expect(Catalog.mnist.mirrors.first == "https://ossci-datasets.s3.amazonaws.com/mnist/")
    }

    @Test(arguments: [("mnsit", "mnist"), ("MNIST", "mnist"), ("fashion_mnist", "fashion-mnist"),
                      ("fashionmnist", "fashion-mnist")])
    func unknownNameSuggestsTheNearest(typo: String, suggestion: String) {
        let error = #expect(throws: DatasetError.self) { try Catalog.entry(named: typo) }
        #expect(error == .unknownDataset(name: typo, known: ["mnist", "fashion-mnist"], suggestion: suggestion))
        #expect(error?.description == "unknown dataset '\(typo)' (known: 'mnist', 'fashion-mnist'); did you mean '\(suggestion)'?")
    }

    @Test func farAwayNameGetsNoSuggestion() {
        let error = #expect(throws: DatasetError.self) { try Catalog.entry(named: "cifar10") }
        #expect(error == .unknownDataset(name: "cifar10", known: Catalog.knownNames, suggestion: nil))
        #expect(error?.description.contains("did you mean") == false)
    }

    @Test func defaultCacheDirectoryFollowsTheEnvironment() {
        #expect(DatasetLocator.defaultCacheDirectory(environment: ["RUNNER_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x",
                                                                   "HOME": "/h"]) == "/c")
        #expect(DatasetLocator.defaultCacheDirectory(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/mnist-runner")
        #expect(DatasetLocator.defaultCacheDirectory(environment: ["RUNNER_CACHE_DIR": "", "XDG_CACHE_HOME": "relative",
                                                                   "HOME": "/h"]) == "/h/.cache/mnist-runner")
    }

    @Test func mirrorsFromTheEnvironment() {
        #expect(DatasetLocator.mirrors(environment: [:]) == nil)
        #expect(DatasetLocator.mirrors(environment: ["RUNNER_DATASET_MIRRORS": " , "]) == nil)
        #expect(DatasetLocator.mirrors(environment: ["RUNNER_DATASET_MIRRORS": "http://a/ https://b/x,http://c"])
            == ["http://a/", "https://b/x", "http://c"])
    }

    @Test func sha256KnownVectors() {
        #expect(Checksum.sha256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Checksum.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
