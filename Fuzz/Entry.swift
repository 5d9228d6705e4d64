import Foundation

// Built with `-D AGOR_FUZZING -sanitize=fuzzer,address` (make fuzz), there is no main here:
// libFuzzer's drives LLVMFuzzerTestOneInput, with the target named by AGOR_FUZZ_TARGET. Built
// normally, `agor-fuzz replay TARGET FILE...` runs files through a target (exit 0 when every
// input returned): how the corpus and every finding run in `make test`.

#if AGOR_FUZZING
nonisolated(unsafe) let fuzzTarget: ([UInt8]) -> Void = {
    let name = ProcessInfo.processInfo.environment["AGOR_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTargets.all[name] else {
        FileHandle.standardError.write(Data("AGOR_FUZZ_TARGET is one of \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzTarget(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// SwiftPM links an executable's entry as `AgorFuzz_main`: hand it to libFuzzer's driver.
typealias FuzzerDriver = @convention(c) (UnsafeMutablePointer<CInt>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                                         @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("AgorFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "LLVMFuzzerRunDriver") else {
        FileHandle.standardError.write(Data("libFuzzer's driver is not linked in\n".utf8))
        return 2
    }
    var count = argc
    var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return unsafeBitCast(symbol, to: FuzzerDriver.self)(&count, &vector) { data, size in fuzzOne(data, size) }
}
#else
@main
enum Replay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.count >= 2, arguments[0] == "replay", let target = FuzzTargets.all[arguments[1]] else {
            FileHandle.standardError.write(Data("usage: agor-fuzz replay TARGET FILE...   (targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", ")))\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst(2) {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(2)
            }
            target(Array(data))
        }
        // The profile target's home, if it made one.
        try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory.appendingPathComponent("agor-fuzz-home-\(getpid())"))
        print("\(arguments.count - 2) input(s) through \(arguments[1]): all returned")
    }
}
#endif
