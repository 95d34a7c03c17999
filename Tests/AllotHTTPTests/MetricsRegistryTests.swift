import AllotHTTP
import AllotTestSupport
import Testing

@Suite struct MetricsRegistryTests {
    @Test func countersSumEveryShard() async {
        let registry = MetricsRegistry()
        let counter = registry.counter("jobs_total", help: "Jobs.")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                let shard = registry.makeShard()
                group.addTask {
                    for _ in 0..<10_000 { shard.increment(counter) }
                }
            }
            group.addTask {
                for _ in 0..<10_000 { registry.shared.increment(counter, by: 2) }
            }
        }
        #expect(registry.value(of: counter) == 60_000)
        #expect(registry.render() == "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 60000\n")
    }

    @Test func gaugesAddAndSet() {
        let registry = MetricsRegistry()
        let open = registry.gauge("open", help: "Open things.")
        let version = registry.gauge("bundle_version", help: "Version.")
        let shard = registry.makeShard()
        shard.add(open, 5)
        shard.add(open, -2)
        registry.shared.add(open, -1)
        registry.set(version, 42.5)
        #expect(registry.value(of: open) == 2)
        #expect(registry.value(of: version) == 42.5)
        #expect(registry.render().contains("\nopen 2\n"))
        #expect(registry.render().contains("\nbundle_version 42.5\n"))
    }

    @Test func histogramBucketsAreCumulative() {
        let registry = MetricsRegistry()
        let latency = registry.histogram("latency_seconds", help: "Latency.", buckets: [0.1, 0.5, 1], labels: [("route", "a")])
        let shard = registry.makeShard()
        for value in [0.05, 0.1, 0.3, 0.7, 2.0] { shard.observe(latency, value) }
        registry.shared.observe(latency, 0.2)
        let expected = """
            # HELP latency_seconds Latency.
            # TYPE latency_seconds histogram
            latency_seconds_bucket{route="a",le="0.1"} 2
            latency_seconds_bucket{route="a",le="0.5"} 4
            latency_seconds_bucket{route="a",le="1"} 5
            latency_seconds_bucket{route="a",le="+Inf"} 6
            latency_seconds_sum{route="a"} 3.35
            latency_seconds_count{route="a"} 6

            """
        #expect(registry.render() == expected)
        let (count, sum) = registry.value(of: latency)
        #expect(count == 6)
        #expect(abs(sum - 3.35) < 1e-9)
    }

    @Test func labelsAreEscapedAndFamiliesGrouped() {
        let registry = MetricsRegistry()
        let a = registry.counter("req_total", help: "Requests.\nSecond line \\ here.", labels: [("path", "a\"b\\c\nd")])
        let b = registry.counter("req_total", help: "ignored", labels: [("path", "plain")])
        let again = registry.counter("req_total", help: "ignored", labels: [("path", "plain")])
        #expect(b == again)
        registry.shared.increment(a)
        registry.shared.increment(again, by: 3)
        let expected = """
            # HELP req_total Requests.\\nSecond line \\\\ here.
            # TYPE req_total counter
            req_total{path="a\\"b\\\\c\\nd"} 1
            req_total{path="plain"} 3

            """
        #expect(registry.render() == expected)
    }

    @Test func serverMetricsAfterTraffic() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            for _ in 0..<3 {
                try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                _ = try client.readResponse()
            }
            try client.send("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try client.readResponse()
            let text = server.metrics.registry.render()
            #expect(text.contains("allot_http_requests_total{route=\"hello\",status=\"2xx\"} 3\n"))
            #expect(text.contains("allot_http_requests_total{route=\"unmatched\",status=\"4xx\"} 1\n"))
            #expect(text.contains("allot_http_request_duration_seconds_count{route=\"hello\"} 3\n"))
            #expect(text.contains("allot_http_request_duration_seconds_bucket{route=\"hello\",le=\"+Inf\"} 3\n"))
            #expect(text.contains("# TYPE allot_http_request_duration_seconds histogram\n"))
            #expect(text.contains("allot_http_open_connections 1\n"))
            #expect(text.contains("allot_http_connections_total 1\n"))
            #expect(text.contains("allot_http_rejections_total{reason=\"connection_limit\"} 0\n"))
            #expect(server.metrics.openConnectionCount == 1)
        }
    }
}
