import Bus
import HomeConfig
import Testing
@testable import btmsg

@Suite("btmsg retention from settings")
struct RetentionSettingsTests {
    @Test("global settings change the default, a group's setting that group, key by key over config.toml")
    func settingsOverlayConfig() throws {
        let config = try RetentionConfig.parse("""
            [btmsg.retention]
            keep_days = 90
            [btmsg.retention.ops]
            keep_messages = 500
            """)
        var settings = Settings()
        try settings.set("retention.keep_days", text: "30", at: .global)
        try settings.set("retention.keep_messages", text: "1000", at: .group("web"))
        let effective = config.overlaid(with: settings)
        #expect(effective.policy(for: "any") == RetentionPolicy(keepDays: 30, keepMessages: 0))
        #expect(effective.policy(for: "web") == RetentionPolicy(keepDays: 30, keepMessages: 1000))
        #expect(effective.policy(for: "ops") == RetentionPolicy(keepDays: 30, keepMessages: 500))
        #expect(config.overlaid(with: Settings()) == config)
    }
}
