// Inverted dropout with a counter-based mask: element e of the mask comes from word e of the
// stream, so the mask is the same however the work is split and needs no stored RNG state
// beyond the stream itself.

/// mask[e] = (uniform(e) ≥ rate) / (1 - rate);  y[e] = x[e] · mask[e]
/// `stream` is the dropout stream positioned for this call; word `e` of it decides element e.
public func dropoutForward(x: FloatView, y: FloatView, mask: FloatView, count: Int, rate: Float,
                           stream: RandomStream, pool: ThreadPool? = nil) {
    precondition(x.count >= count && y.count >= count && mask.count >= count)
    let keep = 1 / (1 - rate)
    // A word w keeps its element when w ≥ rate · 2³², i.e. uniform(e) ≥ rate.
    let threshold = UInt64((Double(rate) * 4_294_967_296).rounded(.up))
    // Whole blocks only: the caller advances the stream by a multiple of 4 words per call.
    precondition(stream.position % 4 == 0, "dropout stream must sit on a block boundary")
    let firstBlock = stream.position / 4
    let xp = x.base, yp = y.base, mp = mask.base
    forEachChunk(count, pool: pool) { range in
        // Chunk bounds are multiples of 4, so element e always takes lane e % 4 of block e / 4.
        var e = range.lowerBound
        while e < range.upperBound {
            let b = stream.block(firstBlock &+ UInt64(e / 4))
            for lane in 0..<min(4, range.upperBound - e) {
                let word = lane == 0 ? b.0 : lane == 1 ? b.1 : lane == 2 ? b.2 : b.3
                let m: Float = UInt64(word) >= threshold ? keep : 0
                mp[e + lane] = m
                yp[e + lane] = xp[e + lane] * m
            }
            e += 4
        }
    }
}

/// dx = dy · mask   (in place on dy)
public func dropoutBackward(dy: FloatView, mask: FloatView, count: Int) {
    precondition(dy.count >= count && mask.count >= count)
    let d = dy.base, m = mask.base
    for e in 0..<count { d[e] *= m[e] }
}
