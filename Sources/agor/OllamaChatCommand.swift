import AgentRunner
import ArgumentParser
import Foundation

/// `agor ollama-chat`: the program the runner starts for an Ollama session (not for people): it
/// keeps the conversation with Ollama's /api/chat, turns on stdin, Ollama's lines on stdout.
struct OllamaChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ollama-chat",
                                                    abstract: "The runner's Ollama client (an agent program; turns on stdin).",
                                                    shouldDisplay: false)
    @Option(help: "Ollama's address.") var url = "http://127.0.0.1:11434"
    @Option(help: "The model.") var model: String
    @Flag(help: "Ask for the model's reasoning (`think`).") var think = false

    func run() throws {
        throw ExitCode(OllamaChat.run(url: url, model: model, think: think))
    }
}
