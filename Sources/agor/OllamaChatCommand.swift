import AgentRunner
import AgorMCP
import ArgumentParser
import Bus
import Foundation
import Logging

/// `agor ollama-chat`: the program the runner starts for an Ollama session (not for people): it
/// keeps the conversation with Ollama's /api/chat, turns on stdin, Ollama's lines on stdout. With
/// the session's agent key (`AGOR_KEY`, `AGOR_HOME`, as the runner sets them) the model has agor's
/// tools, run as that agent.
struct OllamaChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ollama-chat",
                                                    abstract: "The runner's Ollama client (an agent program; turns on stdin).",
                                                    shouldDisplay: false)
    @Option(help: "Ollama's address.") var url = "http://127.0.0.1:11434"
    @Option(help: "The model.") var model: String
    @Flag(help: "Ask for the model's reasoning (`think`).") var think = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var tools: AgentChatTools?
        if let key = environment["AGOR_KEY"], !key.isEmpty {
            // stdout carries Ollama's lines: logs go to stderr.
            var logger = Logger(label: "agor.ollama-chat") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = .warning
            tools = AgentChatTools(home: Home.resolve(environment["AGOR_HOME"]), keyFile: URL(fileURLWithPath: key), logger: logger)
        }
        let status = await OllamaChat.run(url: url, model: model, think: think, tools: tools)
        await tools?.close()
        throw ExitCode(status)
    }
}
