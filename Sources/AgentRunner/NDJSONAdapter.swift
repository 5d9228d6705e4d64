/// Any program that prints one JSON object per line, in agor's own small vocabulary
/// (docs/RUNNER.md): `{"type":"text","text":...}`, `thinking`, `tool_call{id,name,input}`,
/// `tool_result{id,is_error,content}`, `usage{input_tokens,output_tokens,cost_usd}`,
/// `error{message}`, `done{text}`. Anything else is reported as an unknown line.
public struct NDJSONAdapter: ProviderAdapter {
    public let provider = "ndjson"

    public init() {}

    public mutating func events(for line: [UInt8]) -> [AgentEvent] {
        guard let json = JSONLine(line) else { return [.error("bad_json", "not a JSON object: \(JSONLine.excerpt(line))")] }
        switch json.string("type") {
        case "text": return [.text(json.string("text") ?? "")]
        case "thinking": return [.thinking(json.string("text") ?? "")]
        case "tool_call":
            return [.toolCall(id: json.string("id") ?? "", name: json.string("name") ?? "", inputJSON: JSONLine.text(of: json.object["input"]))]
        case "tool_result":
            return [.toolResult(id: json.string("id") ?? "", isError: json.bool("is_error") ?? false, content: json.string("content") ?? "")]
        case "usage":
            return [.usage(input: json.int("input_tokens") ?? 0, output: json.int("output_tokens") ?? 0, costUSD: json.double("cost_usd") ?? 0)]
        case "error": return [.error("provider", json.string("message") ?? "")]
        case "done": return [.turnFinished(text: json.string("text") ?? "", isError: false, subtype: "done")]
        default: return [.error("unknown_line", "unknown line type: \(JSONLine.excerpt(line))")]
        }
    }
}
