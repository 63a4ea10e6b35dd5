extension CompiledRegex {
    /// The first construct that the POSIX/GNU engine used before RE2 (glibc `regcomp`) read one way and
    /// RE2 reads another way without an error, so that a filter written for the old engine cannot change
    /// meaning silently:
    ///
    /// - `{,n}`: glibc read "0 to n times", RE2 reads the literal text `{,n}`;
    /// - `\<`, `\>`: glibc's start and end of a word, RE2's literal `<` and `>`;
    /// - `` \` ``, `\'`: glibc's start and end of the text, RE2's literal characters;
    /// - `[[=a=]]`, `[[.a.]]` (equivalence classes, collating symbols): RE2 reads a class of `[`, `=`,
    ///   `a` followed by a literal `]`.
    ///
    /// Escaped text (`\{,3}`, `\Q…\E`) and the inside of other classes are skipped.
    static func posixOnlyConstruct(in bytes: [UInt8]) -> RegexCompileError? {
        func refuse(_ at: Int, _ construct: String, _ fix: String) -> RegexCompileError {
            let characters = String(decoding: bytes[..<at], as: UTF8.self).count
            return RegexCompileError(kind: .posixOnly, reason: "'\(construct)' \(fix)", characterOffset: characters)
        }
        let backslash = UInt8(ascii: "\\")
        let n = bytes.count
        var i = 0
        while i < n {
            switch bytes[i] {
            case backslash where i + 1 < n:
                switch bytes[i + 1] {
                case UInt8(ascii: "<"), UInt8(ascii: ">"):
                    let c = bytes[i + 1] == UInt8(ascii: "<") ? "\\<" : "\\>"
                    return refuse(i, c, "(a POSIX word start or end) is not supported; use \\b, a word boundary")
                case UInt8(ascii: "`"), UInt8(ascii: "'"):
                    let c = bytes[i + 1] == UInt8(ascii: "`") ? "\\`" : "\\'"
                    return refuse(
                        i, c, "(a GNU start or end of text) is not supported; remove it, the whole value is matched")
                case UInt8(ascii: "Q"):  // \Q…\E: literal text
                    i += 2
                    while i < n && !(bytes[i] == backslash && i + 1 < n && bytes[i + 1] == UInt8(ascii: "E")) {
                        i += 1
                    }
                    i += 2
                default:
                    i += 2
                }
            case UInt8(ascii: "["):
                i += 1
                if i < n && bytes[i] == UInt8(ascii: "^") { i += 1 }
                if i < n && bytes[i] == UInt8(ascii: "]") { i += 1 }  // a leading ']' is a member
                while i < n && bytes[i] != UInt8(ascii: "]") {
                    if bytes[i] == backslash {
                        i += 2
                        continue
                    }
                    if bytes[i] == UInt8(ascii: "["), i + 1 < n {
                        let kind = bytes[i + 1]
                        if kind == UInt8(ascii: "=") || kind == UInt8(ascii: ".") {
                            let c = kind == UInt8(ascii: "=") ? "[=" : "[."
                            return refuse(
                                i, c,
                                "(a POSIX equivalence class or collating symbol) is not supported; list the "
                                    + "characters, e.g. [aàâä]")
                        }
                        if kind == UInt8(ascii: ":") {  // [:alpha:] as a unit
                            var j = i + 2
                            while j + 1 < n && !(bytes[j] == UInt8(ascii: ":") && bytes[j + 1] == UInt8(ascii: "]")) {
                                j += 1
                            }
                            if j + 1 < n {
                                i = j + 2
                                continue
                            }
                        }
                    }
                    i += 1
                }
                i += 1
            case UInt8(ascii: "{") where i + 1 < n && bytes[i + 1] == UInt8(ascii: ","):
                var j = i + 2
                while j < n && bytes[j] >= UInt8(ascii: "0") && bytes[j] <= UInt8(ascii: "9") { j += 1 }
                if j > i + 2 && j < n && bytes[j] == UInt8(ascii: "}") {
                    let text = String(decoding: bytes[i...j], as: UTF8.self)
                    let count = String(decoding: bytes[(i + 2)..<j], as: UTF8.self)
                    return refuse(
                        i, text, "would match the text \(text) in RE2; write {0,\(count)} for 0 to \(count) times")
                }
                i += 1
            default:
                i += 1
            }
        }
        return nil
    }
}
