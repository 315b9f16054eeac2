// Experiment files the tests write: the seed notebook's MLP, with what tests vary as parameters.

public enum ExperimentYAML {
    /// Flatten → Dense(`units`, relu) → Dense(10, softmax), categorical cross-entropy, with
    /// `input_shape: [28, 28]` on line 2 when `inputShape` (without it every line below moves up
    /// one). Lines with it, for tests that point at them:
    ///
    ///      1 model:                             9       units: 10
    ///      2   input_shape: [28, 28]           10       activation: softmax
    ///      3   layers:                         11 compile:
    ///      4     - type: flatten               12   optimizer: adam
    ///      5     - type: dense                 13   loss: categorical_crossentropy
    ///      6       units: 128                  14 train:
    ///      7       activation: relu            15   epochs: 5
    ///      8     - type: dense                 16   batch_size: 32
    ///
    /// Text appended to it starts on line 17 (indented, it continues `train`).
    public static func mlp(units: Int = 128, optimizer: String = "adam", epochs: Int = 5, batchSize: Int = 32,
                           inputShape: Bool = true) -> String {
        "model:\n" + (inputShape ? "  input_shape: [28, 28]\n" : "") + """
              layers:
                - type: flatten
                - type: dense
                  units: \(units)
                  activation: relu
                - type: dense
                  units: 10
                  activation: softmax
            compile:
              optimizer: \(optimizer)
              loss: categorical_crossentropy
            train:
              epochs: \(epochs)
              batch_size: \(batchSize)

            """
    }
}
