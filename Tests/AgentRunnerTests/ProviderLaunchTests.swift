import Testing
@testable import AgentRunner

/// How each provider's program is called: the flags agor relies on are there, in their places.
struct ProviderLaunchTests {
    @Test func claudeAsksAgorUnlessTheProjectLetsItActAlone() {
        let (asking, stdin) = ProviderLaunch.arguments(provider: "claude", sessionId: "s1", model: "", extra: ["fake.py"], prompt: "hi")
        #expect(stdin && asking.first == "fake.py")
        #expect(asking.contains("--permission-prompt-tool") && asking[asking.firstIndex(of: "--permission-prompt-tool")! + 1] == "stdio")
        #expect(!asking.contains("hi"))   // the prompt goes to stdin
        let (alone, _) = ProviderLaunch.arguments(provider: "claude", sessionId: "s1", model: "m", extra: [], prompt: "hi", askApprovals: false)
        #expect(!alone.contains("--permission-prompt-tool"))
        #expect(alone.suffix(4) == ["--permission-mode", "bypassPermissions", "--model", "m"])
        let resumed = ProviderLaunch.resumeArguments(provider: "claude", sessionId: "s1", providerSessionId: "", model: "", extra: [], askApprovals: false)
        #expect(resumed?.contains("bypassPermissions") == true && resumed?.contains("--resume") == true)
    }

    @Test func codexOllamaAndNDJSON() {
        let (codex, codexStdin) = ProviderLaunch.arguments(provider: "codex", sessionId: "s1", model: "", extra: [], prompt: "hi")
        #expect(!codexStdin && codex == ["exec", "--json", "--skip-git-repo-check", "hi"])
        let (ollama, ollamaStdin) = ProviderLaunch.arguments(provider: "ollama", sessionId: "s1", model: "llama", extra: ["ollama-chat"], prompt: "hi",
                                                             ollamaURL: "http://127.0.0.1:11434")
        #expect(ollamaStdin && ollama == ["ollama-chat", "--url", "http://127.0.0.1:11434", "--model", "llama"])
        let (plain, plainStdin) = ProviderLaunch.arguments(provider: "ndjson", sessionId: "s1", model: "", extra: ["a"], prompt: "hi")
        #expect(!plainStdin && plain == ["a", "hi"])
        #expect(ProviderLaunch.resumeArguments(provider: "ollama", sessionId: "s1", providerSessionId: "", model: "", extra: []) == nil)
    }
}
