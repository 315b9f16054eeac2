// Reading SVG text back in tests: the texts of elements of a class, attribute values.
import Foundation
import TestSupport

extension String {
    /// The contents of each `<text class="role" …>…</text>`, unescaped for `&lt; &gt; &amp;`.
    func texts(ofClass role: String) -> [String] {
        captures(between: "<text class=\"\(role)\"", and: "</text>").map { element in
            let content = element[element.index(after: element.firstIndex(of: ">")!)...]
            return content.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&amp;", with: "&")
        }
    }

    /// Each opening tag (up to `>`) of elements with `class="role"`.
    func elements(ofClass role: String) -> [String] {
        captures(between: "class=\"\(role)\"", and: ">")
    }

    /// The value of `name="…"` in a tag's text.
    func attribute(_ name: String) -> String? {
        captures(between: " \(name)=\"", and: "\"").first
    }
}
