import AgorKit
import ArgumentParser

extension AgorKitError {
    /// `agor profile` and `agor backup`'s exit status for this error, after printing it.
    var exit: ExitCode {
        switch code {
        case .damaged, .newer, .unusable: fail(description, code: 2)
        case .passphrase: fail(description, code: 3)
        case .conflict: fail(description, code: 5)
        case .unavailable: fail(description, code: 6)
        }
    }
}
