import Foundation

/// The audit as one self-contained HTML file: summary numbers, two histograms, a table by
/// source dataset, then sample cards (thumbnail embedded, QA pairs, statements with the
/// missing ones marked, description, flags with their evidence), filterable by flag. No
/// external assets, so it can be mailed or opened from a cluster's scratch directory.
public struct AuditReport: Sendable {
    public let store: JobStore
    public let definition: PipelineDefinition
    public let imagesRoot: String
    public let followSymlinks: Bool

    public init(store: JobStore) throws {
        let auditor = try Auditor(store: store)
        self.store = store
        definition = auditor.definition
        let configuration = try store.configuration()
        imagesRoot = configuration?.imagesRoot ?? "."
        followSymlinks = configuration?.followSymlinks ?? false
    }

    public struct Written: Sendable {
        public var cards: Int
        public var flaggedShown: Int
        public var flaggedTotal: Int
        public var cleanShown: Int
        public var cleanTotal: Int
    }

    /// Writes the report; at most `maxCards` cards, three quarters of them flagged samples when there are that many.
    /// - Parameter summary: the store's `auditSummary()`, when the caller has it already (an audit just ran).
    public func write(to path: String, maxCards: Int = 400, summary: AuditSummary? = nil) throws -> Written {
        let auditor = try Auditor(store: store)
        let summary = try summary ?? store.auditSummary()
        let flaggedBudget = max(1, maxCards * 3 / 4)
        var selection = try store.reportSamples(
            flagged: flaggedBudget, clean: maxCards, descriptionStage: auditor.descriptionStage,
            statementsStage: auditor.statementsStage, answersStage: auditor.answersStage)
        let flaggedShown = selection.samples.filter { !$0.findings.isEmpty }.count
        let cleanRoom = maxCards - flaggedShown
        var clean = 0
        selection.samples.removeAll { sample in
            guard sample.findings.isEmpty else { return false }
            clean += 1
            return clean > cleanRoom
        }
        let thumbnails = ImagePreparer(
            root: ImageRoot(path: imagesRoot, followSymlinks: followSymlinks),
            settings: ImageSettings(mode: .maxSide, maxSide: 224, jpegQuality: 80))
        var html = AuditReport.head(title: "vxt audit: \(definition.name)")
        html += "<header><h1>vxt audit <small>\(AuditReport.escape(definition.name)) · \(AuditReport.escape(store.path))</small></h1>\n"
        html += summaryBlock(summary)
        html += "</header>\n"
        html += filterBar(summary, shown: selection.samples)
        html +=
            "<p class=\"note\">Showing \(flaggedShown) of \(selection.totalFlagged) flagged and \(selection.samples.count - flaggedShown) of \(selection.totalClean) clean samples, in input order.</p>\n<main id=\"cards\">\n"
        // Cards on every core: each decodes and shrinks an image for its thumbnail (~3 ms).
        let cards = CardsInProgress(count: selection.samples.count)
        let samples = selection.samples
        DispatchQueue.concurrentPerform(iterations: samples.count) { index in
            cards.set(index, card(samples[index], thumbnails: thumbnails))
        }
        html += cards.joined()
        html += "</main>\n" + AuditReport.script + "</body>\n</html>\n"
        let file = try OutputFile(path: path)
        try file.write(html)
        try file.commit()
        return Written(
            cards: selection.samples.count, flaggedShown: flaggedShown, flaggedTotal: selection.totalFlagged,
            cleanShown: selection.samples.count - flaggedShown, cleanTotal: selection.totalClean)
    }

    func summaryBlock(_ s: AuditSummary) -> String {
        var out = "<section class=\"numbers\">"
        let cleanShare = s.samples > 0 ? Double(s.samples - s.flagged) / Double(s.samples) : 0
        out += AuditReport.number("samples", "\(s.samples)")
        out += AuditReport.number("clean", "\(s.samples - s.flagged) (\(AuditReport.percent(cleanShare)))")
        out += AuditReport.number("mean statement coverage", AuditReport.percent(s.meanCoverage))
        out += AuditReport.number("median words", "\(s.medianWords)")
        out += AuditReport.number("image problems", "\(s.imageProblems)")
        out += "</section>\n<section class=\"charts\">"
        out += AuditReport.histogram(
            title: "Statement coverage", bins: s.coverageHistogram,
            labels: (0..<10).map { "\($0 * 10)–\($0 == 9 ? 100 : $0 * 10 + 9)%" })
        out += AuditReport.histogram(
            title: "Description length (words)", bins: s.wordHistogram,
            labels: s.wordHistogram.indices.map { "\($0 * s.wordBinWidth)–\(($0 + 1) * s.wordBinWidth - 1)" })
        out +=
            "</section>\n<table class=\"sources\"><thead><tr><th>source</th><th>samples</th><th>flagged</th><th>coverage</th><th>answerable</th>"
        let flags = AuditFlag.allCases.filter { (s.flags[$0.rawValue] ?? 0) > 0 }
        for flag in flags { out += "<th>\(flag.rawValue)</th>" }
        out += "</tr></thead><tbody>\n"
        for row in s.sources {
            out +=
                "<tr><td>\(AuditReport.escape(row.source))</td><td>\(row.samples)</td><td>\(row.flagged)</td><td>\(AuditReport.percent(row.meanCoverage))</td>"
            out += "<td>\(row.answerableShare.map(AuditReport.percent) ?? "–")</td>"
            for flag in flags { out += "<td>\(row.flags[flag.rawValue] ?? 0)</td>" }
            out += "</tr>\n"
        }
        out += "</tbody></table>\n"
        return out
    }

    func filterBar(_ s: AuditSummary, shown: [ReportSample]) -> String {
        var out = "<nav class=\"filters\"><label><input type=\"radio\" name=\"flag\" value=\"*\" checked> all (\(shown.count))</label>"
        let clean = shown.filter { $0.findings.isEmpty }.count
        out += "<label><input type=\"radio\" name=\"flag\" value=\"clean\"> clean (\(clean))</label>"
        for flag in AuditFlag.allCases {
            let n = shown.filter { $0.findings.contains { $0.flag == flag } }.count
            guard n > 0 else { continue }
            out += "<label><input type=\"radio\" name=\"flag\" value=\"\(flag.rawValue)\"> \(flag.rawValue) (\(n))</label>"
        }
        return out + "</nav>\n"
    }

    func card(_ sample: ReportSample, thumbnails: ImagePreparer) -> String {
        let flags = sample.findings.map(\.flag.rawValue)
        var out = "<article class=\"card\" data-flags=\"\(flags.isEmpty ? "clean" : flags.joined(separator: " "))\">"
        if let path = sample.record.images.first, let thumbnail = try? thumbnails.prepare(path) {
            out +=
                "<img src=\"\(thumbnail.dataURL)\" width=\"\(thumbnail.width)\" height=\"\(thumbnail.height)\" alt=\"\(AuditReport.escape(path))\">"
        } else {
            out += "<div class=\"noimage\">no image</div>"
        }
        out +=
            "<div class=\"body\"><h3>\(AuditReport.escape(sample.record.displayID)) <small>\(AuditReport.escape(sample.record.source ?? "")) · \(AuditReport.escape(sample.record.images.joined(separator: ", ")))</small>"
        for flag in flags { out += " <span class=\"flag\">\(flag)</span>" }
        if let coverage = sample.coverage { out += " <span class=\"coverage\">coverage \(AuditReport.percent(coverage))</span>" }
        out += "</h3>\n<ol class=\"qa\">"
        for (index, pair) in sample.record.pairs.enumerated() {
            out += "<li><b>Q</b> \(AuditReport.escape(pair.question)) <b>A</b> \(AuditReport.escape(pair.answer))"
            if let answers = sample.answers {
                out += " <i>from the description: \(AuditReport.escape(index < answers.count ? answers[index] : ""))</i>"
            }
            out += "</li>"
        }
        out += "</ol>\n"
        if !sample.statements.isEmpty {
            out += "<ol class=\"statements\">"
            for (index, statement) in sample.statements.enumerated() {
                out += sample.missing.contains(index) ? "<li class=\"missing\" title=\"not found in the description\">" : "<li>"
                out += AuditReport.escape(statement) + "</li>"
            }
            out += "</ol>\n"
        }
        if let description = sample.description {
            out += "<p class=\"description\">\(AuditReport.escape(description))</p>\n"
        }
        if !sample.findings.isEmpty {
            out += "<ul class=\"evidence\">"
            for finding in sample.findings { out += "<li><b>\(finding.flag.rawValue)</b> \(AuditReport.escape(finding.evidence))</li>" }
            out += "</ul>"
        }
        return out + "</div></article>\n"
    }

    static func number(_ label: String, _ value: String) -> String {
        "<div><span class=\"value\">\(escape(value))</span><span class=\"label\">\(escape(label))</span></div>"
    }

    static func percent(_ x: Double) -> String { "\(Int((x * 100).rounded()))%" }

    /// A bar chart as inline SVG: no script or library needed to see it.
    static func histogram(title: String, bins: [Int], labels: [String]) -> String {
        let width = 360.0, height = 120.0
        let top = max(1, bins.max() ?? 1)
        let barWidth = bins.isEmpty ? width : width / Double(bins.count)
        var out =
            "<figure><figcaption>\(escape(title))</figcaption><svg class=\"histogram\" viewBox=\"0 0 \(Int(width)) \(Int(height) + 14)\" width=\"\(Int(width))\" height=\"\(Int(height) + 14)\" role=\"img\">"
        for (index, count) in bins.enumerated() {
            let h = height * Double(count) / Double(top)
            let label = index < labels.count ? labels[index] : ""
            func f(_ x: Double) -> String { String(format: "%.1f", x) }
            out +=
                "<rect x=\"\(f(Double(index) * barWidth + 1))\" y=\"\(f(height - h))\" width=\"\(f(max(1, barWidth - 2)))\" height=\"\(f(h))\"><title>\(escape(label)): \(count)</title></rect>"
        }
        out += "<text x=\"0\" y=\"\(Int(height) + 12)\">\(escape(labels.first ?? ""))</text>"
        out += "<text x=\"\(Int(width))\" y=\"\(Int(height) + 12)\" text-anchor=\"end\">\(escape(labels.last ?? ""))</text></svg></figure>"
        return out
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func head(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(escape(title))</title>
        <style>
        body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 16px;color:#1d1d1f}
        h1 small{font-weight:normal;color:#666;font-size:14px}
        .numbers{display:flex;gap:24px;flex-wrap:wrap;margin:8px 0}
        .numbers div{display:flex;flex-direction:column}.numbers .value{font-size:24px;font-weight:600}.numbers .label{color:#666}
        .charts{display:flex;gap:32px;flex-wrap:wrap}.histogram rect{fill:#4a7bd0}.histogram text{font-size:10px;fill:#666}
        figure{margin:8px 0}figcaption{color:#444;margin-bottom:4px}
        table.sources{border-collapse:collapse;margin:12px 0}table.sources td,table.sources th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:right}
        table.sources td:first-child,table.sources th:first-child{text-align:left}
        .filters{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #ddd;display:flex;gap:12px;flex-wrap:wrap}
        .card{display:flex;gap:16px;border:1px solid #ddd;border-radius:6px;padding:12px;margin:12px 0}
        .card img,.noimage{flex:none;width:224px;height:auto;object-fit:contain;align-self:flex-start}
        .noimage{height:120px;background:#eee;color:#888;display:flex;align-items:center;justify-content:center}
        .card h3{margin:0 0 6px;font-size:15px}.card h3 small{color:#666;font-weight:normal}
        .flag{background:#c0392b;color:#fff;border-radius:3px;padding:0 5px;font-size:12px;font-weight:normal}
        .coverage{color:#555;font-size:12px;font-weight:normal}
        .statements li.missing{background:#fde2e0;text-decoration:underline wavy #c0392b}
        .description{white-space:pre-wrap;background:#f6f6f8;padding:8px;border-radius:4px}
        .evidence{color:#8a1f11}.note{color:#666}
        #errors:empty{display:none}#errors{color:#fff;background:#c0392b;padding:8px}
        </style>
        </head>
        <body data-status="loading">
        <div id="errors"></div>

        """
    }

    /// Filtering, and a status the tests read from the DOM: "ready", or the error in #errors.
    static let script = """
        <script>
        window.addEventListener('error', function (e) { document.getElementById('errors').textContent += String(e.message) + '\\n'; document.body.dataset.status = 'error'; });
        (function () {
          var cards = Array.prototype.slice.call(document.querySelectorAll('.card'));
          function apply(flag) {
            var shown = 0;
            cards.forEach(function (card) {
              var visible = flag === '*' || card.dataset.flags.split(' ').indexOf(flag) >= 0;
              card.style.display = visible ? '' : 'none';
              if (visible) shown += 1;
            });
            document.body.dataset.shown = String(shown);
          }
          document.querySelectorAll('input[name=flag]').forEach(function (input) {
            input.addEventListener('change', function () { apply(input.value); });
          });
          var initial = (location.hash || '').replace('#flag=', '');
          if (initial) { var input = document.querySelector('input[name=flag][value="' + initial + '"]'); if (input) { input.checked = true; } }
          apply(initial || '*');
          document.body.dataset.cards = String(cards.length);
          if (document.body.dataset.status !== 'error') document.body.dataset.status = 'ready';
        })();
        </script>

        """
}

/// The report's cards as the cores finish them, joined in input order.
private final class CardsInProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var cards: [String]

    init(count: Int) { cards = Array(repeating: "", count: count) }

    func set(_ index: Int, _ card: String) { lock.withLock { cards[index] = card } }

    func joined() -> String { lock.withLock { cards.joined() } }
}
