// Numbers as text (fixed precision, no locale), escaping, and the ticks axes choose.
import Charts
import TestSupport
import Testing

@Suite("Numbers, escaping and axes")
struct AxisTests {
    @Test("Fixed-precision numbers")
    func fixed() {
        #expect(Format.fixed(0.5, decimals: 2) == "0.50")
        #expect(Format.fixed(-0.0001, decimals: 2) == "0.00")
        #expect(Format.fixed(1250, decimals: 1) == "1250.0")
        #expect(Format.fixed(-3.6, decimals: 0) == "-4")
        #expect(Format.fixed(0.000123456, decimals: 6) == "0.000123")
        #expect(Format.fixed(.nan, decimals: 2) == "NaN")
        #expect(Format.fixed(-.infinity, decimals: 2) == "-inf")
        #expect(Format.coordinate(12.5) == "12.5")
        #expect(Format.coordinate(3.0001) == "3")
        #expect(Format.coordinate(-0.001) == "0")
        #expect(Format.coordinate(-7.25) == "-7.25")
        #expect(Format.grouped(60000) == "60,000")
        #expect(Format.grouped(999) == "999")
        #expect(Format.grouped(-1_234_567) == "-1,234,567")
        #expect(Format.percent(0.5) == "50.00%")
        #expect(Format.percent(0.98765, decimals: 1) == "98.8%")
    }

    @Test("Escaping for HTML and XML")
    func escaping() {
        #expect(Markup.escape("<a href=\"x\">Tom & 'Jerry'</a>") == "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;")
        #expect(Markup.escape("tab\tline\nbell\u{07}") == "tab\tline\nbell\u{FFFD}")
        #expect(Markup.escape("28×28 · ±") == "28×28 · ±")
    }

    @Test("Estimated text widths order as drawn text does")
    func widths() {
        #expect(TextMetrics.width("MMMM", size: 12) > TextMetrics.width("iiii", size: 12))
        #expect(TextMetrics.width("label", size: 12, bold: true) > TextMetrics.width("label", size: 12))
        #expect(TextMetrics.width("0.975", size: 24) == 2 * TextMetrics.width("0.975", size: 12))
    }

    @Test("1-2-5 steps", arguments: [(0.13, 0.2), (1.5, 2), (3, 5), (7, 10), (0.001, 0.001), (20, 20), (45_000, 50_000)])
    func niceSteps(raw: Double, step: Double) {
        #expect(abs(Axis.niceStep(raw) - step) < step * 1e-12)
    }

    @Test("A linear axis widens to whole steps and labels with the digits the step needs")
    func linear() {
        let t = Axis().ticks(dataMin: 0.9712, dataMax: 0.9934)
        #expect(t.labels == ["0.970", "0.975", "0.980", "0.985", "0.990", "0.995"])
        #expect(abs(t.lower - 0.97) < 1e-12 && abs(t.upper - 0.995) < 1e-12)
        #expect(Axis().ticks(dataMin: 0, dataMax: 9.3).labels == ["0", "2", "4", "6", "8", "10"])
        #expect(Axis(integers: true).ticks(dataMin: 1, dataMax: 3).labels == ["1", "2", "3"])
        #expect(Axis().ticks(dataMin: 0, dataMax: 60000).labels.last == "60,000")
        #expect(Axis().ticks(dataMin: 0, dataMax: 0.00002).labels == ["0", "5.00e-6", "1.00e-5", "1.50e-5", "2.00e-5"])
    }

    @Test("Fixed ends are kept; one value or no data still gives a range")
    func ends() {
        let t = Axis(min: 0.9, max: 1).ticks(dataMin: 0.95, dataMax: 0.97)
        #expect(t.lower == 0.9 && t.upper == 1)
        #expect(t.values.first! >= 0.9 && t.values.last! <= 1 + 1e-12)
        let single = Axis().ticks(dataMin: 5, dataMax: 5)
        #expect(single.lower < 5 && single.upper > 5)
        let none = Axis().ticks(dataMin: .infinity, dataMax: -.infinity)
        #expect(none.lower == 0 && none.upper == 1)
    }

    @Test("Percent and SI tick formats")
    func formats() {
        #expect(Axis(format: .percent).ticks(dataMin: 0.9, dataMax: 1).labels == ["90%", "92%", "94%", "96%", "98%", "100%"])
        #expect(Axis(format: .si).ticks(dataMin: 0, dataMax: 1_200_000, target: 7).labels
            == ["0", "200k", "400k", "600k", "800k", "1M", "1.2M"])
    }

    @Test("A log axis marks 1, 2 and 5 within three decades, decades beyond")
    func logarithmic() {
        let narrow = Axis(scale: .log).ticks(dataMin: 0.03, dataMax: 0.3)
        #expect(narrow.labels == ["0.02", "0.05", "0.1", "0.2", "0.5"])
        let wide = Axis(scale: .log).ticks(dataMin: 1, dataMax: 1e6)
        #expect(wide.labels == ["1", "10", "100", "1000", "10,000", "100,000", "1,000,000"])
        #expect(abs(narrow.position(0.1, start: 0, end: 100)! - 50) < 1e-9)  // 0.1 is the geometric middle of 0.02…0.5
        #expect(narrow.position(0, start: 0, end: 100) == nil)
        #expect(abs(wide.position(1000, start: 0, end: 600)! - 300) < 1e-9)
    }

    @Test("Positions are linear in the value")
    func positions() {
        let t = Axis(min: 0, max: 10).ticks(dataMin: 0, dataMax: 10)
        #expect(t.position(2.5, start: 100, end: 0) == 75)
        #expect(t.position(.nan, start: 0, end: 1) == nil)
    }
}
