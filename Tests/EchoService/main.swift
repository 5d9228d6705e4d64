import Bus
import Foundation
import Logging

// `agor-echo --home H`: the test-only echo service in a process of its own, as `agor serve NAME`
// runs a real one (logs to H/logs/echo.log; SIGTERM/SIGINT stop it).
let arguments = CommandLine.arguments
guard let flag = arguments.firstIndex(of: "--home"), flag + 1 < arguments.count else {
    FileHandle.standardError.write(Data("usage: agor-echo --home PATH\n".utf8))
    exit(64)
}
let home = Home(root: URL(fileURLWithPath: arguments[flag + 1]))
LoggingSystem.bootstrap(FileLogHandler.factory(file: home.logFile("echo"), echoToStderr: false, maxBytes: 10 << 20))
do {
    try await EchoService.run(home: home)
} catch {
    FileHandle.standardError.write(Data("echo: \(error)\n".utf8))
    exit(1)
}
