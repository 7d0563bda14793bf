import Foundation

/// Small, dependency-free SVG charts that read well: ticks at round values (whole numbers on an
/// axis of counts, decades on a log axis), a legend beside the plot (never over it), each series
/// with its own colour, dash pattern and marker shape (curves that coincide stay visible), and
/// marks where a run diverged.
enum SVGPlot {
    /// One curve: its name, points, whether it is drawn dashed (validation, ideal), and where
    /// it diverged (the last finite point, marked ×).
    struct Series {
        var name: String
        var points: [(Double, Double)]
        var dashed = false
        var diverged: (Double, Double)?
        /// Series sharing a group share colour and marker (an optimizer's training and validation curves).
        var group: Int
        /// Left out of the axes' range (a diverged run's other curves); cut at the edges.
        var outlier = false
    }

    /// Speedup against workers, with the ideal (linear) speedup dashed.
    static func speedup(_ points: [(Double, Double)], title: String = "Speedup by worker count") -> String {
        lines(title: title, xLabel: "workers", yLabel: "speedup",
              series: [Series(name: "measured", points: points, group: 0),
                       Series(name: "ideal", points: points.map { ($0.0, $0.0) }, dashed: true, group: 1)],
              integerX: true)
    }

    /// "Nice" tick values covering [low, high]: steps of 1, 2 or 5 × 10^k, about `count` of them;
    /// whole numbers only when `integers`.
    static func ticks(_ low: Double, _ high: Double, count: Int = 6, integers: Bool = false) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / Double(max(count - 1, 1))
        let magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        if integers { step = max(1, step.rounded(.up)) }
        let first = (low / step).rounded(.up) * step
        return stride(from: first, through: high + step * 1e-9, by: step).map { abs($0) < step * 1e-9 ? 0 : $0 }
    }

    /// Decades within [low, high] (log10 values), or 1-2-5 steps within one decade when the range is short.
    static func logTicks(_ low: Double, _ high: Double) -> [Double] {
        let decades = Array(Int(floor(low))...Int(ceil(high))).map(Double.init).filter { $0 >= low - 1e-9 && $0 <= high + 1e-9 }
        if decades.count >= 3 { return decades.count > 8 ? decades.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) : decades }
        var values: [Double] = []
        for decade in Int(floor(low))...Int(ceil(high)) {
            for m in [1.0, 2, 5] {
                let v = log10(m) + Double(decade)
                if v >= low - 1e-9 && v <= high + 1e-9 { values.append(v) }
            }
        }
        return values.isEmpty ? [low, high] : values
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    static let dashes = ["", "8 3", "2 3", "8 3 2 3", "12 4", "4 4"]

    /// A marker of shape `index` (circle, square, triangle, diamond, plus, cross) at (x, y).
    static func marker(_ index: Int, _ x: Double, _ y: Double, _ color: String) -> String {
        let r = 3.5
        switch index % 6 {
        case 0: return "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(r)\" fill=\"\(color)\"/>"
        case 1: return "<rect x=\"\(f(x - r))\" y=\"\(f(y - r))\" width=\"\(2 * r)\" height=\"\(2 * r)\" fill=\"\(color)\"/>"
        case 2: return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x - r - 1)),\(f(y + r)) \(f(x + r + 1)),\(f(y + r))\" fill=\"\(color)\"/>"
        case 3: return "<polygon points=\"\(f(x)),\(f(y - r - 1)) \(f(x + r + 1)),\(f(y)) \(f(x)),\(f(y + r + 1)) \(f(x - r - 1)),\(f(y))\" fill=\"\(color)\"/>"
        case 4: return "<path d=\"M\(f(x - r)),\(f(y))H\(f(x + r))M\(f(x)),\(f(y - r))V\(f(y + r))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
        default: return "<path d=\"M\(f(x - r)),\(f(y - r))L\(f(x + r)),\(f(y + r))M\(f(x - r)),\(f(y + r))L\(f(x + r)),\(f(y - r))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
        }
    }

    static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// A tick label: whole numbers without decimals, others in %g.
    static func label(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e7 ? "\(Int(value))" : Format.general(value)
    }

    /// Line chart of `series`; `integerX` puts ticks on whole numbers (epochs, workers); `logY`
    /// plots the values' log10 with decade ticks.
    static func lines(title: String, subtitle: String? = nil, xLabel: String, yLabel: String, series: [Series],
                      integerX: Bool = false, logY: Bool = false) -> String {
        let longest = series.map { $0.name.count + ($0.diverged != nil ? 11 : 0) }.max() ?? 10
        let legendWidth = min(420.0, max(150.0, Double(longest) * 7.5 + 50))
        let width = 560 + legendWidth, height = 440.0, left = 80.0, right = legendWidth, top = subtitle == nil ? 40.0 : 58, bottom = 50.0
        let transform: (Double) -> Double = { logY ? log10(max($0, 1e-300)) : $0 }
        // The range follows the runs that did not diverge (a diverged one is cut at the top).
        let ranged = series.contains { $0.diverged == nil && !$0.outlier } ? series.filter { $0.diverged == nil && !$0.outlier } : series
        let finite = ranged.flatMap(\.points).filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
        let allX = series.flatMap(\.points).map(\.0).filter(\.isFinite)
        let xs = allX.isEmpty ? finite.map(\.0) : allX, ys = finite.map { transform($0.1) }
        let xMin = xs.min() ?? 0, xMax = max(xs.max() ?? 1, xMin + (integerX ? 1 : 1e-9))
        var yMin = ys.min() ?? 0, yMax = ys.max() ?? 1
        if !logY { yMin = min(yMin, 0) }
        if yMax - yMin < 1e-12 { yMin -= 0.5; yMax += 0.5 }
        let pad = (yMax - yMin) * 0.04
        yMin -= logY ? pad : (yMin == 0 ? 0 : pad); yMax += pad
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (width - left - right - 20) }
        func py(_ y: Double) -> Double { height - bottom - (min(max(y, yMin), yMax) - yMin) / (yMax - yMin) * (height - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        // Titles from the left margin, cut to the width (8 px a character at 15 px, 6 at 11 px).
        func cut(_ text: String, _ pixels: Double) -> String {
            let limit = Int((width - 20) / pixels)
            return text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
        }
        svg += "<text x=\"10\" y=\"22\" font-size=\"15\">\(escaped(cut(title, 8)))</text>\n"
        if let subtitle {
            svg += "<text x=\"10\" y=\"40\" font-size=\"11\" fill=\"#444\">\(escaped(cut(subtitle, 6)))</text>\n"
        }
        let plotRight = width - right - 20
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(f(plotRight))\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        // x ticks, at most one label per 60 px so that they never touch.
        let xCount = max(2, min(8, Int((plotRight - left) / 60)))
        for x in ticks(xMin, xMax, count: xCount, integers: integerX) {
            svg += "<line x1=\"\(f(px(x)))\" y1=\"\(height - bottom)\" x2=\"\(f(px(x)))\" y2=\"\(height - bottom + 5)\" stroke=\"black\"/>\n"
            svg += "<text x=\"\(f(px(x)))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(label(x))</text>\n"
        }
        for y in logY ? logTicks(yMin, yMax) : ticks(yMin, yMax, count: 6) {
            let shown = logY ? (pow(10, y) >= 1e-3 && pow(10, y) < 1e5 ? label(Double(String(format: "%.6g", pow(10, y)))!) : "1e\(Int(y.rounded()))") : label(y)
            svg += "<line x1=\"\(left - 5)\" y1=\"\(f(py(y)))\" x2=\"\(f(plotRight))\" y2=\"\(f(py(y)))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(left - 8)\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\">\(shown)</text>\n"
        }
        svg += "<text x=\"\(f((left + plotRight) / 2))\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escaped(xLabel))</text>\n"
        svg += "<text x=\"16\" y=\"\(height / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(height / 2))\">\(escaped(yLabel + (logY ? " (log scale)" : "")))</text>\n"
        // Earlier series drawn wider, so that a later one lying on top leaves them visible.
        for (index, line) in series.enumerated() {
            let color = colors[line.group % colors.count]
            var points = line.points.filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
            if line.diverged != nil, let (x, _) = line.diverged, !points.contains(where: { $0.0 == x }) { points.append(line.diverged!) }
            let path = points.map { "\(f(px($0.0))),\(f(py(transform($0.1))))" }.joined(separator: " ")
            let strokeWidth = max(1.2, 3.2 - 0.4 * Double(index))
            let dash = line.dashed ? "6 4" : dashes[line.group % dashes.count]
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(strokeWidth)\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") points=\"\(path)\"/>\n"
            if !line.dashed {
                let every = max(1, points.count / 25)
                for (i, point) in points.enumerated() where i % every == 0 || i == points.count - 1 {
                    svg += marker(line.group, px(point.0), py(transform(point.1)), color) + "\n"
                }
            }
            if let (x, y) = line.diverged, x.isFinite, y.isFinite {
                let cx = px(x), cy = py(transform(max(y, logY ? 1e-300 : y)))
                svg += "<g class=\"diverged\"><path d=\"M\(f(cx - 7)),\(f(cy - 7))L\(f(cx + 7)),\(f(cy + 7))M\(f(cx - 7)),\(f(cy + 7))L\(f(cx + 7)),\(f(cy - 7))\" stroke=\"black\" stroke-width=\"2.5\"/>"
                svg += "<text x=\"\(f(cx + 9))\" y=\"\(f(cy + 16))\" font-size=\"11\">diverged</text></g>\n"
            }
            // The legend: a sample of the line and its marker, then the name.
            let ly = top + 10 + 20 * Double(index), lx = width - right + 4
            svg += "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 28))\" y2=\"\(f(ly))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")/>\n"
            if !line.dashed { svg += marker(line.group, lx + 14, ly, color) + "\n" }
            svg += "<text x=\"\(f(lx + 34))\" y=\"\(f(ly + 4))\" fill=\"\(color)\">\(escaped(line.name + (line.diverged != nil ? " (diverged)" : "")))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
