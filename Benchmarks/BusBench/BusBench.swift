import Bus
import Foundation

/// The Swift side of `make bench-bus`: the same cases as Benchmarks/c/rawzmq.c through the Bus's
/// public async API, plus batched publishing and the CPU cost of idle sockets. One JSON line each.
/// Usage: bus-bench thr|lat|batched pubsub|dealer SIZE plain|curve COUNT   |   bus-bench idle SECONDS
@main
struct BusBench {
    static let server = CurveKeyPair.generate()
    static let client = CurveKeyPair.generate()

    static func options(server isServer: Bool, curve: Bool) -> [SocketOption] {
        var options: [SocketOption] = [.sendHighWaterMark(0), .receiveHighWaterMark(0), .linger(0)]
        if curve {
            options.append(isServer ? .curveServer(secretKey: server.secretKey)
                : .curveClient(publicKey: client.publicKey, secretKey: client.secretKey, serverKey: server.publicKey))
        }
        return options
    }

    /// A connected pair: (sender, receiver), PUB->SUB or DEALER->ROUTER.
    static func pair(_ context: Context, pubsub: Bool, curve: Bool) throws -> (Socket, Socket) {
        if pubsub {
            let pub = try Socket(context: context, type: .pub, .init(options: options(server: true, curve: curve), bind: ["tcp://127.0.0.1:*"]))
            let sub = try Socket(context: context, type: .sub, .init(options: options(server: false, curve: curve) + [.subscribe("")],
                                                                     connect: [pub.boundEndpoints[0]]))
            return (pub, sub)
        }
        let router = try Socket(context: context, type: .router, .init(options: options(server: true, curve: curve), bind: ["tcp://127.0.0.1:*"]))
        let dealer = try Socket(context: context, type: .dealer, .init(options: options(server: false, curve: curve), connect: [router.boundEndpoints[0]]))
        return (dealer, router)
    }

    /// Sends probes until the receiver sees one (PUB drops until the subscription arrives).
    static func warmUp(_ tx: Socket, _ rx: Socket, iterator: inout MessageSequence.AsyncIterator) async {
        let probing = Task {
            while !Task.isCancelled {
                await tx.send(OutgoingMessage([]))
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        _ = await iterator.next()
        probing.cancel()
        _ = await probing.value
        try? await Task.sleep(for: .milliseconds(100))
    }

    static func main() async throws {
        let args = CommandLine.arguments
        if args.count == 3 && args[1] == "idle" {
            try await idle(seconds: Double(args[2]) ?? 10)
            return
        }
        guard args.count == 6 else {
            print("usage: bus-bench thr|lat|batched pubsub|dealer SIZE plain|curve COUNT | bus-bench idle SECONDS")
            exit(2)
        }
        let mode = args[1], pubsub = args[2] == "pubsub", size = Int(args[3]) ?? 64, curve = args[4] == "curve"
        let count = Int(args[5]) ?? 100_000
        let context = Context()
        switch mode {
        case "thr": try await throughput(context, pubsub: pubsub, size: size, curve: curve, count: count, pattern: args[2], security: args[4])
        case "batched": try await batched(context, size: size, curve: curve, count: count, security: args[4])
        default: try await latency(context, pubsub: pubsub, size: size, curve: curve, count: count, pattern: args[2], security: args[4])
        }
        exit(0)
    }

    static func throughput(_ context: Context, pubsub: Bool, size: Int, curve: Bool, count: Int, pattern: String, security: String) async throws {
        let (tx, rx) = try pair(context, pubsub: pubsub, curve: curve)
        var iterator = rx.messages.makeAsyncIterator()
        await warmUp(tx, rx, iterator: &iterator)
        let payload = [UInt8](repeating: 0, count: size)
        let start = ContinuousClock.now
        let sender = Task {
            for _ in 0..<count { await tx.send(OutgoingMessage(payload)) }
        }
        var received = 0
        // Skip probes still in flight from the warm-up (empty frames).
        for await batch in rx.batches {
            for message in batch where message.frameSize(message.frameCount - 1) == size { received += 1 }
            if received >= count { break }
        }
        let elapsed = ContinuousClock.now - start
        _ = await sender.value
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(#"{"impl":"swift","kind":"throughput","pattern":"\#(pattern)","size":\#(size),"security":"\#(security)","count":\#(count),"msgs_per_s":\#(Int(Double(count) / seconds))}"#)
    }

    static func batched(_ context: Context, size: Int, curve: Bool, count: Int, security: String) async throws {
        let (pub, sub) = try pair(context, pubsub: true, curve: curve)
        var iterator = sub.messages.makeAsyncIterator()
        await warmUp(pub, sub, iterator: &iterator)
        let payload = [UInt8](repeating: 0, count: size)
        var envelope = Envelope()
        envelope.version = BusProtocol.version
        envelope.kind = .event
        envelope.stream = "t"
        envelope.seq = 1
        let envelopeBytes = envelope.bytes()
        let topic = Array("t".utf8)
        let start = ContinuousClock.now
        let sender = Task {
            for _ in 0..<count { await pub.publish(topic: topic, envelope: envelopeBytes, body: payload) }
        }
        var received = 0
        var frames = 0
        for await batch in sub.batches {
            for message in batch {
                frames += 1
                EventFrame.forEach(in: message) { _, body in if body.count == size { received += 1 } }
            }
            if received >= count { break }
        }
        let elapsed = ContinuousClock.now - start
        _ = await sender.value
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(#"{"impl":"swift","kind":"batched","pattern":"pubsub","size":\#(size),"security":"\#(security)","count":\#(count),"logical_msgs_per_s":\#(Int(Double(count) / seconds)),"frames":\#(frames)}"#)
    }

    static func latency(_ context: Context, pubsub: Bool, size: Int, curve: Bool, count: Int, pattern: String, security: String) async throws {
        let (tx, rx) = try pair(context, pubsub: pubsub, curve: curve)
        var forward = rx.messages.makeAsyncIterator()
        await warmUp(tx, rx, iterator: &forward)
        var backTx = tx, backRx = rx
        if pubsub {
            (backTx, backRx) = try pair(context, pubsub: true, curve: curve)
        }
        var back = (pubsub ? backRx : tx).messages.makeAsyncIterator()
        if pubsub { await warmUp(backTx, backRx, iterator: &back) }
        // Drain warm-up leftovers.
        try await Task.sleep(for: .milliseconds(100))
        let payload = [UInt8](repeating: 0, count: size)
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let t0 = ContinuousClock.now
            await tx.send(OutgoingMessage(payload))
            var message = await forward.next()!
            while message.frameSize(message.frameCount - 1) != size { message = await forward.next()! }
            if pubsub {
                await backTx.send(OutgoingMessage(payload))
            } else {
                await rx.send(frames: [message.frame(0), payload])
            }
            var reply = await back.next()!
            while reply.frameSize(reply.frameCount - 1) != size { reply = await back.next()! }
            let d = ContinuousClock.now - t0
            samples.append(Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12)
        }
        samples.sort()
        let p50 = samples[count / 2], p99 = samples[count * 99 / 100]
        print(#"{"impl":"swift","kind":"latency","pattern":"\#(pattern)","size":\#(size),"security":"\#(security)","count":\#(count),"p50_us":\#((p50 * 10).rounded() / 10),"p99_us":\#((p99 * 10).rounded() / 10)}"#)
    }

    /// CPU used by a process holding connected CURVE sockets (PUB/SUB and DEALER/ROUTER, each with
    /// a consumer waiting) and doing nothing for `seconds`.
    static func idle(seconds: Double) async throws {
        let context = Context()
        let (pub, sub) = try pair(context, pubsub: true, curve: true)
        let (dealer, router) = try pair(context, pubsub: false, curve: true)
        var subIterator = sub.messages.makeAsyncIterator()
        await warmUp(pub, sub, iterator: &subIterator)
        await dealer.send(OutgoingMessage([1]))
        var routerIterator = router.messages.makeAsyncIterator()
        _ = await routerIterator.next()
        let consumers = [sub, router].map { socket in Task { for await _ in socket.batches {} } }
        try await Task.sleep(for: .milliseconds(500))
        func cpu() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        let cpu0 = cpu(), wall0 = Date()
        try await Task.sleep(for: .seconds(seconds))
        let used = cpu() - cpu0, wall = Date().timeIntervalSince(wall0)
        print(#"{"impl":"swift","kind":"idle","sockets":4,"seconds":\#((wall * 100).rounded() / 100),"cpu_seconds":\#((used * 10000).rounded() / 10000),"idle_cpu_pct":\#((used / wall * 100 * 1000).rounded() / 1000)}"#)
        for consumer in consumers { consumer.cancel() }
        exit(0)
    }
}
