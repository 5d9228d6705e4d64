import Bus
import ConfigText
import Foundation
import HomeConfig

/// How long a group's messages are kept: the last `keepDays` days and/or the last `keepMessages`
/// messages (0 = no limit). Set in the settings cascade (`agor settings set retention.keep_days 30
/// [--group G]`), read at service start; config.toml's older form is still read beneath it:
///
///     [btmsg.retention]          # default for every group
///     keep_days = 30
///     [btmsg.retention.team-a]   # one group
///     keep_messages = 10000
public struct RetentionPolicy: Sendable, Equatable {
    public var keepDays: Int64 = 0
    public var keepMessages: Int64 = 0

    public init(keepDays: Int64 = 0, keepMessages: Int64 = 0) {
        self.keepDays = keepDays
        self.keepMessages = keepMessages
    }

    public var isUnlimited: Bool { keepDays == 0 && keepMessages == 0 }
}

public struct RetentionConfig: Sendable, Equatable {
    public var defaultPolicy = RetentionPolicy()
    public var groups: [String: RetentionPolicy] = [:]

    public init(defaultPolicy: RetentionPolicy = RetentionPolicy(), groups: [String: RetentionPolicy] = [:]) {
        self.defaultPolicy = defaultPolicy
        self.groups = groups
    }

    public func policy(for group: String) -> RetentionPolicy { groups[group] ?? defaultPolicy }

    /// This configuration with the settings cascade's `retention.keep_days` / `retention.keep_messages`
    /// on top: global settings change the default, a group's settings that group (and, as the
    /// cascade says, a group setting falls back to the global one key by key).
    public func overlaid(with settings: Settings) -> RetentionConfig {
        func apply(_ values: [String: SettingValue], to base: RetentionPolicy) -> RetentionPolicy {
            var policy = base
            if case .integer(let days)? = values["retention.keep_days"] { policy.keepDays = days }
            if case .integer(let count)? = values["retention.keep_messages"] { policy.keepMessages = count }
            return policy
        }
        var result = self
        result.defaultPolicy = apply(settings.global, to: defaultPolicy)
        for (group, policy) in groups { result.groups[group] = apply(settings.global, to: policy) }
        for (group, values) in settings.groups {
            result.groups[group] = apply(values, to: result.groups[group] ?? result.defaultPolicy)
        }
        return result
    }

    /// Whether any group keeps only its last N messages (then sends wake the pruner).
    public var limitsCounts: Bool { defaultPolicy.keepMessages > 0 || groups.values.contains { $0.keepMessages > 0 } }

    /// Reads `[btmsg.retention]` from the home's config.toml text. Bad values are a HomeError.
    public static func parse(_ text: String, file: String = "config.toml") throws -> RetentionConfig {
        let table: TOMLTable
        do { table = try TOML.parse(text) } catch { throw HomeError.config(file: file, reason: error.description) }
        var config = RetentionConfig()
        guard let retention = table.value(at: "btmsg.retention")?.table else { return config }
        func policy(_ t: TOMLTable, base: RetentionPolicy, path: String) throws -> RetentionPolicy {
            var p = base
            for key in t.keys where t[key]?.table == nil {
                guard key == "keep_days" || key == "keep_messages" else {
                    throw HomeError.config(file: file, reason: "\(path).\(key): unknown key (keep_days, keep_messages)")
                }
                guard let n = t[key]?.integer, n >= 0 else {
                    throw HomeError.config(file: file, reason: "\(path).\(key) must be a whole number ≥ 0")
                }
                if key == "keep_days" { p.keepDays = n } else { p.keepMessages = n }
            }
            return p
        }
        config.defaultPolicy = try policy(retention, base: RetentionPolicy(), path: "btmsg.retention")
        for key in retention.keys {
            guard let group = retention[key]?.table else { continue }
            config.groups[key] = try policy(group, base: config.defaultPolicy, path: "btmsg.retention.\(key)")
        }
        return config
    }
}
