import RunnerAPI
/// Ollama's streaming `/api/chat` lines: text (and thinking) in pieces, tool calls (the stream
/// never carries their results: the runner answers them), `done: true` with the counts, and
/// `{"error": ...}` mid-stream. Text is reported piece by piece as it arrives; the turn's whole
/// text is in its `turn.finished`.
public struct OllamaAdapter: ProviderAdapter {
    public let provider = "ollama"
    private var turnText = ""
    private var calls = 0
    private var announced = false
    /// Tool calls in this round: a round that called tools is answered and continued by the
    /// runner's Ollama client (`agor.tool_result` lines), so its `done` does not end the turn.
    private var roundCalls = 0

    public init() {}

    public mutating func events(for line: [UInt8]) -> [AgentEvent] {
        guard let json = JSONLine(line) else { return [.error("bad_json", "not a JSON object: \(JSONLine.excerpt(line))")] }
        if json.string("type") == "agor.tool_result" {
            return [.toolResult(id: json.string("id") ?? "", isError: json.bool("is_error") ?? true, content: json.string("content") ?? "")]
        }
        if let error = json.string("error") {
            defer { turnText = "" }
            return [.error("provider", error, fatal: true), .turnFinished(text: error, isError: true, subtype: "error")]
        }
        var events: [AgentEvent] = []
        if !announced, let model = json.string("model") {
            announced = true
            var body = Agor_Runner_V1_SessionStarted()
            body.provider = provider
            body.model = model
            var event = AgentEvent()
            event.sessionStarted = body
            events.append(event)
        }
        if let message = json.child("message") {
            if let thinking = message.string("thinking"), !thinking.isEmpty { events.append(.thinking(thinking)) }
            if let text = message.string("content"), !text.isEmpty {
                turnText += text
                events.append(.text(text))
            }
            for call in message.children("tool_calls") {
                let function = call.child("function")
                calls += 1
                roundCalls += 1
                events.append(.toolCall(id: call.string("id") ?? "call_\(calls)", name: function?.string("name") ?? "",
                                        inputJSON: JSONLine.text(of: function?.object["arguments"])))
            }
        }
        if json.bool("done") == true {
            events.append(.usage(input: json.int("prompt_eval_count") ?? 0, output: json.int("eval_count") ?? 0))
            if roundCalls == 0 {
                events.append(.turnFinished(text: turnText, isError: false, subtype: json.string("done_reason") ?? "stop"))
                turnText = ""
            }
            roundCalls = 0
        }
        if events.isEmpty && json.child("message") == nil {
            return [.error("unknown_line", "not a chat line: \(JSONLine.excerpt(line))")]
        }
        return events
    }
}
