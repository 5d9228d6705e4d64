import Bus
import Foundation
import Glibc

/// The Ollama provider's program (`agor ollama-chat`): Ollama's `/api/chat` never runs tools and
/// keeps no conversation, so this small client does, as an agent program of its own, sandboxed and
/// read like any other. It takes user turns on stdin (the stream-json user lines the runner writes
/// to Claude), keeps the history, POSTs it with `"stream": true`, and copies every response line
/// to stdout unchanged for the `OllamaAdapter`. Tool calls are answered "unavailable" (a later issue
/// gives Ollama agents tools): each answer goes into the history as a `tool` message and to stdout
/// as an `agor.tool_result` line, and the model is asked again, until a round has no tool call.
/// An HTTP error, or an error line, ends the program with status 1 after an `{"error": ...}` line.
public enum OllamaChat {
    public static let unavailable = "unavailable: this agent has no tools yet (agor answers every tool call of an Ollama agent this way)"
    static let turnLimit = 4 << 20

    public static func run(url: String, model: String, think: Bool) -> Int32 {
        let server: HTTPLineStream
        do { server = try HTTPLineStream(url: url) } catch {
            emit(["error": "\(error)"])
            return 1
        }
        var history: [[String: Any]] = []
        var calls = 0
        var input = LineSplitter(limit: turnLimit)
        var pending: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            // The next user turn from stdin (other lines, such as approval answers, are ignored).
            while pending.isEmpty {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return 0 }
                buffer.withUnsafeBytes { raw in
                    input.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { piece in if case .line(let line) = piece { pending.append(line) } }
                }
            }
            let line = pending.removeFirst()
            guard let turn = userText(line) else { continue }
            history.append(["role": "user", "content": turn])
            // Rounds until the model stops calling tools.
            while true {
                var request: [String: Any] = ["model": model, "messages": history, "stream": true]
                if think { request["think"] = true }
                var text = "", thinking = "", toolCalls: [[String: Any]] = [], failed = false
                let answer: HTTPLineStream.Answer
                do {
                    answer = try server.post("/api/chat", body: Array(JSONLine.text(of: request).utf8)) { line in
                        write(line + [0x0A])
                        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { return }
                        if object["error"] != nil { failed = true }
                        guard let message = object["message"] as? [String: Any] else { return }
                        text += message["content"] as? String ?? ""
                        thinking += message["thinking"] as? String ?? ""
                        toolCalls += (message["tool_calls"] as? [[String: Any]]) ?? []
                    }
                } catch {
                    emit(["error": "\(error)"])
                    return 1
                }
                guard answer.status == 200 else {
                    let body = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
                    emit(["error": (body?["error"] as? String) ?? "HTTP \(answer.status) from \(url)"])
                    return 1
                }
                if failed { return 1 }
                var reply: [String: Any] = ["role": "assistant", "content": text]
                if !thinking.isEmpty { reply["thinking"] = thinking }
                if !toolCalls.isEmpty { reply["tool_calls"] = toolCalls }
                history.append(reply)
                if toolCalls.isEmpty { break }
                for call in toolCalls {
                    calls += 1
                    let id = call["id"] as? String ?? "call_\(calls)"
                    let name = (call["function"] as? [String: Any])?["name"] as? String ?? ""
                    var message: [String: Any] = ["role": "tool", "tool_name": name, "content": unavailable]
                    if call["id"] != nil { message["tool_call_id"] = id }
                    history.append(message)
                    emit(["type": "agor.tool_result", "id": id, "is_error": true, "content": unavailable])
                }
            }
        }
    }

    /// The text of a stream-json user line (`{"type":"user","message":{"content": TEXT or blocks}}`).
    static func userText(_ line: [UInt8]) -> String? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any], object["type"] as? String == "user",
              let message = object["message"] as? [String: Any] else { return nil }
        if let text = message["content"] as? String { return text }
        let blocks = (message["content"] as? [[String: Any]]) ?? []
        let text = blocks.compactMap { $0["type"] as? String == "text" ? $0["text"] as? String : nil }.joined(separator: "\n")
        return text.isEmpty ? nil : text
    }

    static func emit(_ object: [String: Any]) {
        write(Array(JSONLine.text(of: object).utf8) + [0x0A])
    }

    static func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { exit(1) }   // the runner is gone
            offset += n
        }
    }
}
