import AgorCLI
import AgorKit
import ArgumentParser
import Bus
import Diagnostics
import DiagnosticsAPI
import Foundation
import SwiftProtobuf

/// `agor diag ...`: the Diagnostics collector's figures for people and scripts.
struct DiagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diag", abstract: "Health of every service and link, from the Diagnostics collector.",
        subcommands: [Summary.self, ServiceDetail.self, Histograms.self, Links.self, Series.self, Top.self])

    static let program = "agor diag"

    /// One request to the collector, printed as JSON (`--json`) or as `render` makes it.
    static func ask<Q, R>(_ options: ClientOptions, _ method: Method<Q, R>, _ request: Q,
                          render: @escaping (R) -> String) async throws {
        try await options.withSession(service: method.service, program: program) { session in
            let reply = try await session.call(method, request)
            if session.json { Terminal.printJSON(reply) } else { print(render(reply), terminator: "") }
        }
    }

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per service: health, rates, latency, drops, reconnects.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await DiagCommand.ask(options, DiagnosticsAPI.summary, Agor_Diagnostics_V1_SummaryRequest(),
                                      render: DiagView.table)
        }
    }

    struct ServiceDetail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "service", abstract: "One service in detail: methods, sockets, subscribers, recent links.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The service.") var service: String

        func run() async throws {
            var request = Agor_Diagnostics_V1_ServiceRequest()
            request.service = service
            try await DiagCommand.ask(options, DiagnosticsAPI.serviceDetail, request, render: DiagView.detail)
        }
    }

    struct Histograms: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Request latency per method: p50, p90, p99, p99.9, max.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The service.") var service: String
        @Option(help: "One method only.") var method: String = ""
        @Option(help: "The last N seconds (1-60); 0 = since the collector started.") var window: UInt32 = 0

        func run() async throws {
            var request = Agor_Diagnostics_V1_HistogramsRequest()
            request.service = service
            request.method = method
            request.windowS = window
            try await DiagCommand.ask(options, DiagnosticsAPI.histograms, request) { DiagView.methods($0.methods) }
        }
    }

    struct Links: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reconnection history: connects, disconnects, retries, handshake failures.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The service (default: every service).") var service: String = ""
        @Option(help: "At most this many, newest last (1-5000).") var limit: UInt32 = 50

        func run() async throws {
            var request = Agor_Diagnostics_V1_LinksRequest()
            request.service = service
            request.limit = limit
            try await DiagCommand.ask(options, DiagnosticsAPI.links, request) { DiagView.links($0.links) }
        }
    }

    struct Series: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One figure over time: the last hour at 1 s, or the last week at 1 min.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "The service.") var service: String
        @Argument(help: "requests_per_s, errors_per_s, p99_us, dropped_events, reconnects, max_fill or up.") var metric: String
        @Flag(help: "One point per minute (kept a week) instead of per second (kept an hour).") var minutes = false

        func run() async throws {
            var request = Agor_Diagnostics_V1_SeriesRequest()
            request.service = service
            request.metric = metric
            request.resolution = minutes ? .minute : .second
            try await DiagCommand.ask(options, DiagnosticsAPI.series, request) { reply in
                reply.points.map { "\(Terminal.time($0.timeUs))  \($0.value)\n" }.joined()
            }
        }
    }

    struct Top: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A live view of every service and link, redrawn in place as the collector pushes figures.")
        @OptionGroup var options: ClientOptions
        @Option(help: "Stop after this many frames (0 = until Ctrl-C).") var frames: Int = 0

        func run() async throws {
            try await guarded(program: DiagCommand.program) {
                let session = try options.connect(service: DiagnosticsService.name)
                defer { Task { await session.close() } }
                let watch = try DiagWatch(client: session.client)
                let interactive = isatty(STDOUT_FILENO) == 1 && !options.json
                var shown = 0
                var recent: [String] = []
                for await item in watch.items {
                    switch item {
                    case .figures(let figures):
                        if options.json {
                            Terminal.printJSON(figures)
                        } else {
                            // Home + clear on a terminal; a plain separator when piped.
                            let frame = DiagView.table(figures) + (recent.isEmpty ? "" : "\nrecent:\n" + recent.suffix(8).joined(separator: "\n") + "\n")
                            print(interactive ? "\u{1B}[H\u{1B}[2J" + frame : frame + "--", terminator: interactive ? "" : "\n")
                        }
                        fflush(nil)
                        shown += 1
                        if frames > 0 && shown >= frames { await watch.close(); return }
                    case .note(let line):
                        recent.append(line)
                        if recent.count > 100 { recent.removeFirst(50) }
                    }
                }
                throw Failure(.unavailable, "the diagnostics stream ended")
            }
        }
    }
}
