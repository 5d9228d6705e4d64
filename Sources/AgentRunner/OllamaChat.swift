import Bus
import Foundation
import Glibc

/// The tools an Ollama agent may call, run by its client as the agent itself (`agor mcp`'s tools,
/// the same for every provider). Kept abstract here: the client lives below the tools' module.
public protocol ChatTools: Sendable {
    /// The tools as Ollama's `tools` field lists them: `{"type":"function","function":{name, description, parameters}}`.
    func definitions() -> [[String: Any]]
    /// Runs one call; the answer's text, and whether it is an error (a refusal names its code).
    func call(_ name: String, argumentsJSON: Data) async -> (isError: Bool, content: String)
}

/// The Ollama provider's program (`agor ollama-chat`): Ollama's `/api/chat` never runs tools and
/// keeps no conversation, so this small client does, as an agent program of its own, sandboxed and
/// read like any other. It takes user turns on stdin (the stream-json user lines the runner writes
/// to Claude), keeps the history, POSTs it with `"stream": true` and the agent's tools, and copies
/// every response line to stdout unchanged for the `OllamaAdapter`. Each tool call runs as the
/// agent (`ChatTools`; without them it is answered "unavailable"); each answer goes into the
/// history as a `tool` message and to stdout as an `agor.tool_result` line, and the model is asked
/// again, until a round has no tool call. An HTTP error, or an error line, ends the program with
/// status 1 after an `{"error": ...}` line.
public enum OllamaChat {
    public static let unavailable = "unavailable: this agent has no tools (agor ollama-chat was started without the agent's key)"
    static let turnLimit = 4 << 20
    /// Tool rounds in one turn before the client stops asking (a model calling tools forever).
    static let roundLimit = 50

    public static func run(url: String, model: String, think: Bool, tools: ChatTools?) async -> Int32 {
        let server: HTTPLineStream
        do { server = try HTTPLineStream(url: url) } catch {
            emit(["error": "\(error)"])
            return 1
        }
        let definitions = tools?.definitions() ?? []
        var history: [[String: Any]] = []
        var calls = 0
        // User turns from stdin, read by a thread of their own (other lines, such as approval answers, are ignored).
        for await line in stdinLines() {
            guard let turn = userText(line) else { continue }
            history.append(["role": "user", "content": turn])
            // Rounds until the model stops calling tools.
            for round in 1...roundLimit {
                var request: [String: Any] = ["model": model, "messages": history, "stream": true]
                if think { request["think"] = true }
                if !definitions.isEmpty { request["tools"] = definitions }
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
                    let function = call["function"] as? [String: Any]
                    let name = function?["name"] as? String ?? ""
                    var outcome = (isError: true, content: unavailable)
                    if round == roundLimit {
                        outcome.content = "refused: \(roundLimit) rounds of tool calls in one turn; answer without tools"
                    } else if let tools {
                        let arguments = (try? JSONSerialization.data(withJSONObject: function?["arguments"] ?? [String: Any]())) ?? Data("{}".utf8)
                        outcome = await tools.call(name, argumentsJSON: arguments)
                    }
                    var message: [String: Any] = ["role": "tool", "tool_name": name, "content": outcome.content]
                    if call["id"] != nil { message["tool_call_id"] = id }
                    history.append(message)
                    emit(["type": "agor.tool_result", "id": id, "is_error": outcome.isError, "content": outcome.content])
                }
            }
        }
        return 0
    }

    /// Complete lines of stdin, read by a thread of their own so that the tools' async calls keep
    /// the cooperative threads; ends at end of file. A line over the turn limit is dropped. Not
    /// bounded in count: the only writer is the runner, which queues turns while one runs and
    /// delivers them together, so few lines ever wait here, and none may be lost.
    static func stdinLines() -> AsyncStream<[UInt8]> {
        AsyncStream { continuation in
            Thread.detachNewThread {
                var input = LineSplitter(limit: turnLimit)
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    buffer.withUnsafeBytes { raw in
                        input.feed(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { piece in
                            if case .line(let line) = piece { continuation.yield(line) }
                        }
                    }
                }
                continuation.finish()
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
