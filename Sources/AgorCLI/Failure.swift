import ArgumentParser
import Bus
import Foundation

/// A refusal or failure of a command-line tool, printed as one line on stderr with its exit status:
/// 2 bad input, 3 not allowed, 4 not found, 5 conflict, 6 service unavailable or too slow.
public struct Failure: Error {
    public enum Kind: Int32, Sendable { case general = 1, badInput = 2, forbidden = 3, notFound = 4, conflict = 5, unavailable = 6 }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }

    public init(_ error: BusError, service: String) {
        switch error.errorCode {
        case .badRequest, .tooLarge, .unsupportedVersion: kind = .badInput
        case .unauthenticated, .forbidden: kind = .forbidden
        case .notFound: kind = .notFound
        case .conflict: kind = .conflict
        case .unavailable, .timeout: kind = .unavailable
        default: kind = .general
        }
        if error == .keyRefused {
            message = "your key is not accepted by \(service): revoked or unknown"
            return
        }
        message = error.errorCode == .timeout ? "\(service) service did not answer in time (is `agor up` running?): \(error.message)" : error.message
    }
}

/// Runs a command body, turning every error into one stderr line (`PROGRAM: message`) and an exit status.
public func guarded(program: String, _ body: () async throws -> Void) async throws {
    func fail(_ message: String, _ status: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("\(program): \(message)\n".utf8))
        return ExitCode(status)
    }
    do {
        try await body()
    } catch let failure as Failure {
        throw fail(failure.message, failure.kind.rawValue)
    } catch let error as BusError {
        let failure = Failure(error, service: program)
        throw fail(failure.message, failure.kind.rawValue)
    } catch let exit as ExitCode {
        throw exit
    } catch {
        throw fail("\(error)", 1)
    }
}
