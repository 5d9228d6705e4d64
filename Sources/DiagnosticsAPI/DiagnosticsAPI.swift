import Bus

/// The collector's wire API, written once: `agor diag`, the Gateway and the tests call through these.
public enum DiagnosticsAPI {
    public static let service = "diagnostics"

    public static let summary = Method<Agor_Diagnostics_V1_SummaryRequest, Agor_Diagnostics_V1_Figures>(
        service, "diag.summary", .read, summary: "every service's health and figures")
    public static let serviceDetail = Method<Agor_Diagnostics_V1_ServiceRequest, Agor_Diagnostics_V1_ServiceReply>(
        service, "diag.service", .read, summary: "one service: methods, sockets, subscribers, recent link events")
    public static let histograms = Method<Agor_Diagnostics_V1_HistogramsRequest, Agor_Diagnostics_V1_HistogramsReply>(
        service, "diag.histograms", .read, summary: "request latency histograms of one service")
    public static let links = Method<Agor_Diagnostics_V1_LinksRequest, Agor_Diagnostics_V1_LinksReply>(
        service, "diag.links", .read, summary: "stored link events (connects, drops, refusals)")
    public static let series = Method<Agor_Diagnostics_V1_SeriesRequest, Agor_Diagnostics_V1_SeriesReply>(
        service, "diag.series", .read, summary: "one metric of one service over time")

    /// Every method above, for docs and tests.
    public static let all: [any MethodDescription] = [
        summary, serviceDetail, histograms, links, series,
    ]
}
